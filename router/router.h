#ifndef SY_ROUTER_H
#define SY_ROUTER_H

/* Entry point of 'switchyard router'; argv[0] is "router". Returns the exit status. */
int rt_main(int argc, char **argv);

#endif
