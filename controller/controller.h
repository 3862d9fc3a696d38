#ifndef SY_CONTROLLER_H
#define SY_CONTROLLER_H

/* Entry point of 'switchyard controller'; argv[0] is "controller". */
int controller_main(int argc, char **argv);

#endif
