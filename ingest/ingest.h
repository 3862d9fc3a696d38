#ifndef SY_INGEST_H
#define SY_INGEST_H

/* Entry point of 'switchyard ingest'; argv[0] is "ingest". Returns the exit status. */
int ingest_main(int argc, char **argv);

#endif
