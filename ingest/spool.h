/*
 * The Redis side of ingest: the stream sy:events, read as the consumer group "ingest"
 * (names in wire/keys.h).
 *
 * Blocking hiredis. Reads batches (own pending entries first, then entries other
 * consumers left pending, then new ones), dead-letters bad events to sy:events:dead and
 * acknowledges a batch (XACK + XDEL in one MULTI) once it is committed. Every call
 * retries through Redis outages with backoff and gives up only when *stop is set.
 */
#ifndef SY_INGEST_SPOOL_H
#define SY_INGEST_SPOOL_H

#include <signal.h>
#include <stddef.h>

#include "common/pg.h"
#include "common/redisurl.h"

struct redisContext;

/* One stream entry. */
struct ing_entry {
    char *id;
    char *e;      /* field e or b, NULL if neither */
    size_t elen;
    int batch;    /* from field b: events separated by newlines */
    int deleted;  /* XDEL'd while pending: nothing to ingest, only to acknowledge */
};

struct ing_batch {
    struct ing_entry *v;
    size_t n;
    size_t cap;
};

void ing_batch_clear(struct ing_batch *b);
void ing_batch_free(struct ing_batch *b);

struct ing_spool {
    /* set by the caller before ing_spool_init */
    sy_redis_addr addr;
    char consumer[300];
    long batch;          /* entries a read */
    long block_ms;       /* XREADGROUP BLOCK */
    long claim_idle_ms;  /* XAUTOCLAIM min-idle-time */
    int once;            /* never BLOCK */
    /* counters, for the stats line */
    unsigned long long errors, dead;
    /* owned here */
    struct redisContext *rc;
    struct sy_backoff backoff;
    volatile sig_atomic_t *stop;
    long long next_claim_ms;
    int read_pending;    /* re-read our own pending entries (ID 0) before new ones */
    char claim_cursor[64];
};

void ing_spool_init(struct ing_spool *sp, volatile sig_atomic_t *stop);

/* Connects (auth, select, XGROUP CREATE) with backoff if not connected. 0, or -1 when
 * stopping. */
int ing_spool_ensure(struct ing_spool *sp) __attribute__((warn_unused_result));

/* Reads the next batch into b: own pending entries, claimed ones, or new ones. *was_new:
 * the read asked for new entries. 0 (b may be empty), -1 on a Redis failure (connection
 * dropped; ing_spool_pause before trying again). */
int ing_spool_read(struct ing_spool *sp, struct ing_batch *b, int *was_new)
    __attribute__((warn_unused_result));

/* Dead-letters one event of entry id with its reason (ev NULL: the entry has none).
 * 0, or -1 when stopping. */
int ing_spool_dead_letter(struct ing_spool *sp, const char *id, const char *ev, size_t evlen,
                          const char *reason) __attribute__((warn_unused_result));

/* XACK + XDEL every entry of b atomically. 0, or -1 when stopping. */
int ing_spool_ack(struct ing_spool *sp, const struct ing_batch *b)
    __attribute__((warn_unused_result));

/* Sleeps the next backoff delay. 1 if told to stop meanwhile, else 0. */
int ing_spool_pause(struct ing_spool *sp);

/* The stream's length and the ID time (ms since the epoch) of its oldest entry, 0 when
 * empty: what waits to be ingested. 0, or -1 on a Redis failure (connection dropped). */
int ing_spool_depth(struct ing_spool *sp, long long *len, long long *oldest_ms)
    __attribute__((warn_unused_result));

void ing_spool_close(struct ing_spool *sp);

#endif
