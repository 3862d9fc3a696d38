/* ctl_db: the controller's query helpers (libpq types stay out of ctl.h). */
#ifndef SY_CTL_DB_H
#define SY_CTL_DB_H

#include <libpq-fe.h>

#include "controller/ctl.h"

/* Parameterised query; NULL on failure (logged; a dead connection is dropped). */
PGresult *ctl_db_q(ctl *c, const char *sql, int n, const char *const *params);
/* 0 or -1; a failure is already logged, so callers that cannot act on it may ignore it. */
int ctl_db_exec(ctl *c, const char *sql, int n, const char *const *params);
void ctl_db_rollback(ctl *c);

/* Task-type mask <-> "code,complex". */
unsigned ctl_tasks_mask(const char *list);
void ctl_tasks_list(unsigned mask, char *out, size_t len);

#endif
