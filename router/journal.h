/*
 * journal: the router's events on local disk until Redis has confirmed them
 * (`--journal DIR`), so that a router killed with events still in memory loses
 * none: the next router started on the same directory sends them.
 *
 * Each event is appended, with one write(2), to the current segment file
 * DIR/events-<seq>.jl (one event JSON per line) before its answer leaves the
 * process. The page cache keeps what was written when the process dies (SIGKILL,
 * OOM, a crash); there is no fsync, so a machine crash can lose the last
 * seconds. Segments are cut every RT_JOURNAL_SEGMENT_US (only between batches,
 * so each batch lies in one segment); a segment is deleted once it is not the
 * current one and every batch taken from it is confirmed.
 *
 * One process per directory: DIR/lock is held with flock(2) for the journal's
 * life. Replaying may send an event Redis had already confirmed again (the
 * process died between the confirmation and the deletion); ingest stores it
 * once (the row's key is the request id and time).
 */
#ifndef SY_RT_JOURNAL_H
#define SY_RT_JOURNAL_H

#include <stddef.h>

typedef struct rt_journal rt_journal;
typedef struct rt_jseg rt_jseg; /* one segment file */

/* Creates DIR if needed and locks it. NULL with the reason in err. */
rt_journal *rt_journal_open(const char *dir, char *err, size_t errlen);

/* The events of the segments a previous process left, oldest first, in groups of
 * at most max_events: fn takes each group (newline-separated, malloc'd, n events)
 * with a reference on its segment, dropped by rt_jseg_done when Redis confirms it.
 * Returns the number of events, -1 if a segment could not be read (logged). A
 * last line without its newline (the process died in the write) is skipped. */
typedef void (*rt_journal_replay_fn)(void *arg, rt_jseg *seg, char *json, size_t len, size_t n);
long rt_journal_replay(rt_journal *j, size_t max_events, rt_journal_replay_fn fn, void *arg);

/* Appends one event (no newline in it). Returns the segment it went into, or NULL
 * when it could not be written (logged, at most once a second): the event is then
 * only in memory. */
rt_jseg *rt_journal_append(rt_journal *j, const char *json, size_t len);

/* A batch of the current segment is complete: take a reference on the segment
 * for it, and cut a new segment if this one is old enough. */
void rt_jseg_hold(rt_journal *j, rt_jseg *seg);
/* Redis confirmed a batch: drop its reference (the segment may be deleted). */
void rt_jseg_done(rt_jseg *seg);
/* A batch given up unconfirmed (the process stops): its segment stays on disk. */
void rt_jseg_keep(rt_jseg *seg);

/* Closes and unlocks. all_confirmed: no event appended since the last batch hold is
 * still unsent (else the current segment stays too). Segments of batches still
 * held are freed by their rt_jseg_done/keep. */
void rt_journal_close(rt_journal *j, int all_confirmed);

#endif
