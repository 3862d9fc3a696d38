/*
 * ingest's Redis side (ingest/spool.h): batches in from the stream sy:events, bad events
 * out to sy:events:dead, acknowledgements after the commit.
 */
#include "ingest/spool.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/redisdiscover.h"
#include "wire/keys.h"

#define ING_DEAD_MAXLEN "100000"
#define ING_REDIS_CONNECT_MS 2000
#define ING_REDIS_REPLY_MS 10000 /* on top of --block-ms */

/* ---- batches ------------------------------------------------------------ */

void ing_batch_clear(struct ing_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->v[i].id);
        free(b->v[i].e);
    }
    b->n = 0;
}

void ing_batch_free(struct ing_batch *b)
{
    ing_batch_clear(b);
    free(b->v);
    b->v = NULL;
    b->cap = 0;
}

static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Appends entries of an XREADGROUP/XAUTOCLAIM entry list: [[id, [f, v, ...]], ...]. */
static int batch_add_entries(struct ing_batch *b, const redisReply *list)
{
    if (list->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i < list->elements; i++) {
        const redisReply *ent = list->element[i];
        struct ing_entry *e;
        if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
            ent->element[0]->type != REDIS_REPLY_STRING)
            return -1;
        if (b->n == b->cap) {
            size_t ncap = b->cap ? b->cap * 2 : 256;
            struct ing_entry *nv = realloc(b->v, ncap * sizeof(*nv));
            if (!nv)
                return -1;
            b->v = nv;
            b->cap = ncap;
        }
        e = &b->v[b->n];
        memset(e, 0, sizeof(*e));
        if (!(e->id = dup_bytes(ent->element[0]->str, ent->element[0]->len)))
            return -1;
        b->n++;
        const redisReply *fields = ent->element[1];
        if (fields->type != REDIS_REPLY_ARRAY) {
            e->deleted = 1;
            continue;
        }
        for (size_t f = 0; f + 1 < fields->elements; f += 2) {
            const redisReply *k = fields->element[f], *v = fields->element[f + 1];
            if (k->type == REDIS_REPLY_STRING && k->len == 1 &&
                (k->str[0] == 'e' || k->str[0] == 'b') && v->type == REDIS_REPLY_STRING) {
                if (!(e->e = dup_bytes(v->str, v->len)))
                    return -1;
                e->elen = v->len;
                e->batch = k->str[0] == 'b';
                break;
            }
        }
    }
    return 0;
}

/* ---- connection --------------------------------------------------------- */

static void redis_drop(struct ing_spool *sp, const char *why)
{
    if (sp->rc) {
        sy_log_kv(SY_WARN, "redis connection lost", "reason", why, NULL);
        sp->errors++;
        redisFree(sp->rc);
        sp->rc = NULL;
    }
}

static redisReply *redis_cmd(struct ing_spool *sp, int argc, const char **argv,
                             const size_t *lens)
{
    redisReply *r = redisCommandArgv(sp->rc, argc, argv, lens);
    if (!r)
        redis_drop(sp, sp->rc->errstr[0] ? sp->rc->errstr : "no reply");
    return r;
}

static int reply_is_error(const redisReply *r, const char *prefix)
{
    return r->type == REDIS_REPLY_ERROR && (!prefix || !strncmp(r->str, prefix, strlen(prefix)));
}

/* An error reply saying the node is no longer the primary (READONLY after a Sentinel
 * failover): drop the connection so that the next attempt looks for the primary again. */
static void drop_if_failover(struct ing_spool *sp, const redisReply *r)
{
    if (sp->addr.nsentinels && r && r->type == REDIS_REPLY_ERROR &&
        sy_redis_error_is_failover(r->str))
        redis_drop(sp, r->str);
}

/* Connects, authenticates, selects the db, creates the group. 0, or -1 (logged). */
static int redis_connect_once(struct ing_spool *sp)
{
    struct timeval ctv = {ING_REDIS_CONNECT_MS / 1000, (ING_REDIS_CONNECT_MS % 1000) * 1000};
    long reply_ms = sp->block_ms + ING_REDIS_REPLY_MS;
    struct timeval rtv = {reply_ms / 1000, (reply_ms % 1000) * 1000};
    redisReply *r = NULL;
    char db[16];

    if (sy_redis_locate(&sp->addr, ING_REDIS_CONNECT_MS, "ingest") != 0)
        return -1;
    sp->rc = redisConnectWithTimeout(sp->addr.host, sp->addr.port, ctv);
    if (!sp->rc || sp->rc->err) {
        sy_log_kv(SY_WARN, "redis connect failed", "reason",
                  sp->rc ? sp->rc->errstr : "out of memory", NULL);
        goto fail;
    }
    if (redisSetTimeout(sp->rc, rtv) != REDIS_OK)
        goto fail;
    if (sp->addr.password[0]) {
        if (sp->addr.user[0]) {
            const char *a[] = {"AUTH", sp->addr.user, sp->addr.password};
            r = redisCommandArgv(sp->rc, 3, a, NULL);
        } else {
            const char *a[] = {"AUTH", sp->addr.password};
            r = redisCommandArgv(sp->rc, 2, a, NULL);
        }
        if (!r || reply_is_error(r, NULL)) {
            sy_log_kv(SY_ERROR, "redis AUTH failed", "reason", r ? r->str : sp->rc->errstr, NULL);
            goto fail;
        }
        freeReplyObject(r);
        r = NULL;
    }
    if (sp->addr.db != 0) {
        snprintf(db, sizeof(db), "%d", sp->addr.db);
        const char *a[] = {"SELECT", db};
        r = redisCommandArgv(sp->rc, 2, a, NULL);
        if (!r || reply_is_error(r, NULL)) {
            sy_log_kv(SY_ERROR, "redis SELECT failed", "reason", r ? r->str : sp->rc->errstr,
                      NULL);
            goto fail;
        }
        freeReplyObject(r);
        r = NULL;
    }
    {
        const char *a[] = {"XGROUP", "CREATE", WIRE_EVENTS_STREAM, WIRE_EVENTS_GROUP, "0", "MKSTREAM"};
        r = redisCommandArgv(sp->rc, 6, a, NULL);
        if (!r || (reply_is_error(r, NULL) && !reply_is_error(r, "BUSYGROUP"))) {
            sy_log_kv(SY_ERROR, "redis XGROUP CREATE failed", "reason",
                      r ? r->str : sp->rc->errstr, NULL);
            goto fail;
        }
        freeReplyObject(r);
        r = NULL;
    }
    sp->read_pending = 1; /* anything we read before a disconnect may still be pending */
    snprintf(sp->claim_cursor, sizeof(sp->claim_cursor), "0-0");
    sy_log(SY_INFO, "redis connected", "host=%s port=%d db=%d", sp->addr.host, sp->addr.port,
           sp->addr.db);
    return 0;
fail:
    if (r)
        freeReplyObject(r);
    if (sp->rc)
        redisFree(sp->rc);
    sp->rc = NULL;
    return -1;
}

static int redis_attempt(void *arg) { return redis_connect_once(arg); }

int ing_spool_ensure(struct ing_spool *sp)
{
    if (sp->rc)
        return 0;
    return sy_backoff_retry(&sp->backoff, redis_attempt, sp, &sp->errors, sp->stop);
}

int ing_spool_pause(struct ing_spool *sp)
{
    return sy_sleep_ms(sy_backoff_next(&sp->backoff), sp->stop);
}

void ing_spool_init(struct ing_spool *sp, volatile sig_atomic_t *stop)
{
    sp->stop = stop;
    sy_backoff_init(&sp->backoff, 100, 5000);
}

void ing_spool_close(struct ing_spool *sp)
{
    if (sp->rc)
        redisFree(sp->rc);
    sp->rc = NULL;
}

/* ---- the stream ---------------------------------------------------------- */

int ing_spool_dead_letter(struct ing_spool *sp, const char *id, const char *ev, size_t evlen,
                          const char *reason)
{
    const char *argv[11] = {"XADD", WIRE_EVENTS_DEAD_STREAM, "MAXLEN", "~", ING_DEAD_MAXLEN, "*",
                            "id", id, "reason", reason, "e"};
    size_t lens[12];
    int argc = 10;
    const char *args[12];

    memcpy(args, argv, sizeof(argv));
    for (int i = 0; i < 11; i++)
        lens[i] = strlen(args[i]);
    if (ev) {
        args[11] = ev;
        lens[11] = evlen;
        argc = 12;
    }
    for (;;) {
        redisReply *r;
        if (ing_spool_ensure(sp) != 0)
            return -1;
        r = redis_cmd(sp, argc, args, lens);
        if (!r) {
            if (ing_spool_pause(sp))
                return -1;
            continue;
        }
        if (reply_is_error(r, NULL)) {
            sy_log_kv(SY_ERROR, "dead-letter XADD failed", "id", id, "reason", r->str, NULL);
            drop_if_failover(sp, r);
            freeReplyObject(r);
            if (ing_spool_pause(sp))
                return -1;
            continue;
        }
        freeReplyObject(r);
        sy_log_kv(SY_WARN, "bad event dead-lettered", "id", id, "reason", reason, NULL);
        sp->dead++;
        return 0;
    }
}

/* XACK + XDEL the batch atomically (retrying through Redis outages). 0, or -1 when stopping. */
int ing_spool_ack(struct ing_spool *sp, const struct ing_batch *b)
{
    size_t n = b->n;
    const char **argv = malloc((n + 3) * sizeof(*argv));
    int rc = -1;

    if (!argv) {
        sy_log(SY_ERROR, "out of memory acknowledging a batch", "entries=%zu", n);
        return -1;
    }
    for (;;) {
        redisReply *r = NULL;
        int ok = 1, failover = 0;
        if (ing_spool_ensure(sp) != 0)
            goto done;
        /* pipeline: MULTI, XACK, XDEL, EXEC */
        redisAppendCommand(sp->rc, "MULTI");
        argv[0] = "XACK";
        argv[1] = WIRE_EVENTS_STREAM;
        argv[2] = WIRE_EVENTS_GROUP;
        for (size_t i = 0; i < n; i++)
            argv[3 + i] = b->v[i].id;
        redisAppendCommandArgv(sp->rc, (int)(n + 3), argv, NULL);
        argv[1] = "XDEL";
        argv[2] = WIRE_EVENTS_STREAM;
        redisAppendCommandArgv(sp->rc, (int)(n + 2), argv + 1, NULL);
        redisAppendCommand(sp->rc, "EXEC");
        for (int i = 0; i < 4; i++) {
            if (redisGetReply(sp->rc, (void **)&r) != REDIS_OK) {
                redis_drop(sp, sp->rc->errstr);
                ok = 0;
                break;
            }
            if (i < 3) { /* +OK, +QUEUED, +QUEUED */
                if (reply_is_error(r, NULL)) {
                    sy_log_kv(SY_ERROR, "MULTI/XACK/XDEL refused", "reason", r->str, NULL);
                    ok = 0;
                    if (sy_redis_error_is_failover(r->str))
                        failover = 1;
                }
            } else if (r->type != REDIS_REPLY_ARRAY) {
                sy_log_kv(SY_ERROR, "EXEC failed", "reason",
                          r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply", NULL);
                ok = 0;
            } else {
                for (size_t k = 0; k < r->elements; k++) {
                    const redisReply *x = r->element[k];
                    /* NOGROUP: Redis lost the stream (restart without persistence);
                     * there is nothing left to acknowledge. */
                    if (reply_is_error(x, NULL) && !reply_is_error(x, "NOGROUP")) {
                        sy_log_kv(SY_ERROR, "XACK/XDEL failed", "reason", x->str, NULL);
                        ok = 0;
                    }
                }
            }
            freeReplyObject(r);
            r = NULL;
        }
        if (ok) {
            rc = 0;
            goto done;
        }
        if (failover && sp->addr.nsentinels)
            redis_drop(sp, "READONLY: not the primary any more");
        if (ing_spool_pause(sp))
            goto done;
    }
done:
    free(argv);
    return rc;
}

/* Reads the next batch into b: own pending entries, claimed ones, or new ones.
 * Returns 0 (b may be empty), -1 on a Redis failure (connection dropped). */
/* A command on the consumer group: the reply, or NULL with the connection dropped (no
 * reply, or NOGROUP: Redis lost the stream, and reconnecting creates it again). */
static redisReply *group_cmd(struct ing_spool *sp, int argc, const char **argv)
{
    redisReply *r = redis_cmd(sp, argc, argv, NULL);
    if (r && sp->addr.nsentinels && reply_is_error(r, NULL) && sy_redis_error_is_failover(r->str)) {
        drop_if_failover(sp, r);
        freeReplyObject(r);
        return NULL;
    }
    if (r && reply_is_error(r, "NOGROUP")) {
        freeReplyObject(r);
        redis_drop(sp, "consumer group missing");
        return NULL;
    }
    return r;
}

int ing_spool_read(struct ing_spool *sp, struct ing_batch *b, int *was_new)
{
    char count[24], block[24], idle[24];
    redisReply *r;

    snprintf(count, sizeof(count), "%ld", sp->batch);
    snprintf(block, sizeof(block), "%ld", sp->block_ms);
    snprintf(idle, sizeof(idle), "%ld", sp->claim_idle_ms);
    *was_new = 0;

    if (!sp->read_pending && sy_clock_mono_ms() >= sp->next_claim_ms) {
        const char *argv[] = {"XAUTOCLAIM", WIRE_EVENTS_STREAM, WIRE_EVENTS_GROUP, sp->consumer,
                              idle, sp->claim_cursor, "COUNT", count};
        if (!(r = group_cmd(sp, 8, argv)))
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || batch_add_entries(b, r->element[1])) {
            sy_log_kv(SY_ERROR, "XAUTOCLAIM: unexpected reply", "reason",
                      r->type == REDIS_REPLY_ERROR ? r->str : "bad shape", NULL);
            freeReplyObject(r);
            ing_batch_clear(b);
            sp->next_claim_ms = sy_clock_mono_ms() + sp->claim_idle_ms / 2;
            return 0;
        }
        snprintf(sp->claim_cursor, sizeof(sp->claim_cursor), "%s", r->element[0]->str);
        if (!strcmp(sp->claim_cursor, "0-0"))
            sp->next_claim_ms =
                sy_clock_mono_ms() + (sp->claim_idle_ms / 2 > 1000 ? sp->claim_idle_ms / 2 : 1000);
        if (b->n > 0)
            sy_log(SY_INFO, "claimed entries left pending by another consumer", "entries=%zu",
                   b->n);
        freeReplyObject(r);
        if (b->n > 0 || strcmp(sp->claim_cursor, "0-0") != 0)
            return 0;
    }

    const char *id = sp->read_pending ? "0" : ">";
    const char *argv[] = {"XREADGROUP", "GROUP", WIRE_EVENTS_GROUP, sp->consumer, "COUNT", count,
                          "BLOCK", block, "STREAMS", WIRE_EVENTS_STREAM, id};
    int argc = 11;
    if (sp->read_pending || sp->once) { /* no BLOCK */
        argv[6] = "STREAMS";
        argv[7] = WIRE_EVENTS_STREAM;
        argv[8] = id;
        argc = 9;
    }
    if (!(r = group_cmd(sp, argc, argv)))
        return -1;
    if (r->type == REDIS_REPLY_NIL) { /* BLOCK timed out */
        freeReplyObject(r);
        *was_new = 1;
        return 0;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
        r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2 ||
        batch_add_entries(b, r->element[0]->element[1]) != 0) {
        sy_log_kv(SY_ERROR, "XREADGROUP: unexpected reply", "reason",
                  r->type == REDIS_REPLY_ERROR ? r->str : "bad shape", NULL);
        freeReplyObject(r);
        ing_batch_clear(b);
        redis_drop(sp, "unexpected reply");
        return -1;
    }
    freeReplyObject(r);
    *was_new = !sp->read_pending;
    if (sp->read_pending && b->n == 0)
        sp->read_pending = 0; /* our pending list is empty: on to new entries */
    return 0;
}

int ing_spool_depth(struct ing_spool *sp, long long *len, long long *oldest_ms)
{
    if (!sp->rc)
        return -1;
    const char *xlen[] = {"XLEN", WIRE_EVENTS_STREAM};
    redisReply *r = redis_cmd(sp, 2, xlen, NULL);
    if (!r)
        return -1;
    int rc = r->type == REDIS_REPLY_INTEGER ? 0 : -1;
    *len = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    *oldest_ms = 0;
    if (rc || *len == 0)
        return rc;
    /* entries are deleted once committed: the first one left is the oldest waiting */
    const char *first[] = {"XRANGE", WIRE_EVENTS_STREAM, "-", "+", "COUNT", "1"};
    if (!sp->rc || !(r = redis_cmd(sp, 6, first, NULL)))
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements >= 1 &&
        r->element[0]->element[0]->type == REDIS_REPLY_STRING)
        *oldest_ms = strtoll(r->element[0]->element[0]->str, NULL, 10); /* "<ms>-<seq>" */
    freeReplyObject(r);
    return 0;
}
