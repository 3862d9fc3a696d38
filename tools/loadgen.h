/*
 * switchyard loadgen: open-loop traffic generator for the router, with simulated
 * user feedback per served model and true task type (docs/architecture.md,
 * "Load generator").
 */
#ifndef SY_LOADGEN_H
#define SY_LOADGEN_H

int loadgen_main(int argc, char **argv);

#endif
