#ifndef SY_SIM_H
#define SY_SIM_H

/* Entry point of 'switchyard sim'; argv[0] is "sim". Returns the exit status. */
int sim_main(int argc, char **argv);

#endif
