#ifndef SY_REPORT_H
#define SY_REPORT_H

/*
 * Entry point of 'switchyard report'; argv[0] is "report". Prints the dashboard views
 * (the SQL files of dashboards/) as aligned tables, CSV or JSON. Returns the exit status.
 */
int report_main(int argc, char **argv);

#endif
