#ifndef SY_MIGRATE_H
#define SY_MIGRATE_H

/* Entry point of 'switchyard migrate'; argv[0] is "migrate". Returns the exit status. */
int migrate_main(int argc, char **argv);

#endif
