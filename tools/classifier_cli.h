#ifndef SY_CLASSIFIER_CLI_H
#define SY_CLASSIFIER_CLI_H

/* Entry point of 'switchyard classifier'; argv[0] is "classifier". Returns the exit status. */
int classifier_main(int argc, char **argv);

#endif
