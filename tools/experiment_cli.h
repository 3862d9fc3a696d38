#ifndef SY_EXPERIMENT_CLI_H
#define SY_EXPERIMENT_CLI_H

/* Entry point of 'switchyard experiment' (the controller's admin API client); argv[0] is
 * "experiment". */
int experiment_main(int argc, char **argv);

#endif
