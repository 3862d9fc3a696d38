/*
 * ctl_store: the controller's PostgreSQL connection and leadership.
 *
 * Leadership is a session-level advisory lock held on the same connection
 * that does the work: if the leader dies or loses its connection, PostgreSQL
 * releases the lock and a standby takes it on its next tick.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pg.h"
#include "controller/ctl.h"
#include "controller/ctl_db.h"

#define LEADER_LOCK "switchyard.controller"

int ctl_pg_ensure(ctl *c)
{
    if (c->pg && PQstatus((PGconn *)c->pg) == CONNECTION_OK)
        return 0;
    ctl_pg_drop(c);
    /* bounded: connect_timeout from the URL or 5 s; every statement 10 s */
    char err[512];
    c->pg = sy_pg_connect(c->database_url, "switchyard-controller", 10000, err, sizeof(err));
    if (!c->pg) {
        sy_log_kv(SY_WARN, "postgres unreachable", "reason", err, NULL);
        return -1;
    }
    return 0;
}

void ctl_pg_drop(ctl *c)
{
    if (c->pg)
        PQfinish((PGconn *)c->pg);
    c->pg = NULL;
    if (c->leader)
        sy_log(SY_WARN, "leadership lost", "reason=connection_closed");
    c->leader = 0;
}

int ctl_pg_lead(ctl *c)
{
    if (ctl_pg_ensure(c))
        return 0;
    if (c->leader) {
        /* still holding it? a cheap round trip also detects a dead connection */
        PGresult *r = ctl_db_q(c, "SELECT 1", 0, NULL);
        if (!r)
            return 0;
        PQclear(r);
        return 1;
    }
    PGresult *r = ctl_db_q(c, "SELECT pg_try_advisory_lock(hashtext('" LEADER_LOCK "'))", 0, NULL);
    if (!r)
        return 0;
    c->leader = !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    if (c->leader)
        sy_log(SY_INFO, "leader", "lock=" LEADER_LOCK);
    return c->leader;
}

PGresult *ctl_db_q(ctl *c, const char *sql, int n, const char *const *params)
{
    if (ctl_pg_ensure(c))
        return NULL;
    PGresult *r = PQexecParams((PGconn *)c->pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    sy_log_kv(SY_ERROR, "query failed", "reason", PQresultErrorMessage(r), "sql", sql, NULL);
    PQclear(r);
    if (PQstatus((PGconn *)c->pg) != CONNECTION_OK)
        ctl_pg_drop(c);
    return NULL;
}

int ctl_db_exec(ctl *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = ctl_db_q(c, sql, n, params);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

void ctl_db_rollback(ctl *c)
{
    if (c->pg && PQstatus((PGconn *)c->pg) == CONNECTION_OK)
        PQclear(PQexec((PGconn *)c->pg, "ROLLBACK"));
}
