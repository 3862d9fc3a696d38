/*
 * redis: the router's one asynchronous Redis connection (hiredis on the
 * libevent loop). It carries the per-user cohort records and the event spool.
 *
 * Nothing on the request path waits for Redis. Events are appended to the
 * stream sy:events in batches: one entry, field b, holds up to 512 events
 * (1 MiB) separated by newlines (event JSON has no raw newline), closed 20 ms
 * after its first event at the latest. A batch whose XADD is not confirmed (Redis down,
 * timeout, error reply) goes back to a bounded in-memory queue and is sent
 * again after reconnecting. When the queue (counted in events) is full the new
 * event is dropped, counted and logged (at most once a second).
 *
 * The user record is written at most once a minute per user, step and cohort
 * by each process (a 4-way set-associative cache of 65,536 recent users,
 * router/seen.h, emptied on every reconnection), so last_seen_us is exact to a minute. It is plain
 * pipelined commands, no script: HSETNX seen:<step> (its reply says whether the
 * user is new to the step; only then HINCRBY of the exposure count), HSETNX
 * first_seen_us, HSET bucket/cohort/last_seen_us, PEXPIRE.
 */
#ifndef SY_RT_REDIS_H
#define SY_RT_REDIS_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sy_redis_addr;
typedef struct rt_redis rt_redis;

rt_redis *rt_redis_new(struct event_base *base, const struct sy_redis_addr *addr,
                       size_t max_queue, int command_timeout_ms);
void rt_redis_free(rt_redis *r);

int rt_redis_connected(const rt_redis *r);

/* Fire and forget: first exposure, bucket, cohort, and the user counted once per
 * step key ("<phase>:<routed_bp>:<task>") in sy:{exp}:exposures field
 * "<step key>:<cohort>". */
void rt_redis_record_user(rt_redis *r, const char *experiment, const char *user_hash, int bucket,
                          const char *cohort, const char *step_key, int64_t ts_us);

/* --journal: the events also go to this journal until Redis confirms them (see
 * router/journal.h); the events a previous process left in it are queued first.
 * Takes ownership of j. Returns the number of events replayed, -1 if a segment
 * could not be read (it stays on disk). */
struct rt_journal;
long rt_redis_attach_journal(rt_redis *r, struct rt_journal *j);

/* Takes ownership of json (malloc'd). */
void rt_redis_spool_event(rt_redis *r, char *json, size_t len);

/* A read off the request path (e.g. HGETALL of the experiment state). The
 * callback gets NULL when Redis is down or does not answer in time. Returns
 * -1 (and does not call back) when not connected. */
struct redisReply;
typedef void (*rt_redis_reply_cb)(struct redisReply *reply, void *arg);
int rt_redis_hgetall(rt_redis *r, const char *key, rt_redis_reply_cb cb, void *arg);
/* GETEX key EX ttl_s: the value, its expiry pushed back. As rt_redis_hgetall. */
int rt_redis_getex(rt_redis *r, const char *key, int ttl_s, rt_redis_reply_cb cb, void *arg);
/* Fire and forget: SET key value EX ttl_s (nothing when not connected). */
void rt_redis_set_ex(rt_redis *r, const char *key, const char *value, int ttl_s);

/* One command as RESP (what send_argv writes into a stack buffer of RT_REDIS_CMD_MAX
 * bytes instead of letting hiredis allocate): the same bytes as hiredis's
 * redisFormatCommandArgv, binary safe (argv[i] is lens[i] bytes). Returns the length,
 * or 0, writing nothing, when the command might not fit in cap bytes (send_argv then
 * falls back to hiredis's argv path). */
#define RT_REDIS_CMD_MAX 1024
size_t rt_redis_format_argv(char *buf, size_t cap, int argc, const char **argv,
                            const size_t *lens);

size_t rt_redis_queue_depth(const rt_redis *r);  /* waiting in memory */
/* How long the oldest event waiting in memory has waited (0 when none). */
int64_t rt_redis_queue_age_us(const rt_redis *r, int64_t now_wall_us);
/* The stream sy:events as last read (every second): its entries not yet ingested (ingest
 * deletes what it committed) and the oldest one's time (ms since the epoch, Redis's
 * clock; 0 when empty). -1 when unknown (Redis away or not answering). */
int rt_redis_spool_backlog(const rt_redis *r, int64_t *entries, int64_t *oldest_ms);
size_t rt_redis_inflight(const rt_redis *r);     /* events sent, not yet confirmed */
uint64_t rt_redis_dropped(const rt_redis *r);    /* events lost to a full queue */
uint64_t rt_redis_spooled(const rt_redis *r);    /* events confirmed by Redis */

#endif
