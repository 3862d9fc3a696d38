/*
 * wire/keys: every Redis name the router, ingest and controller share (docs/architecture.md,
 * "Experiment state in Redis" and "Request events"). One place, so a rename cannot leave
 * one process talking to a key nobody else reads.
 *
 * Per-experiment names are printf formats taking the experiment name (and the user hash
 * for WIRE_KEY_USER). "{experiment}" is a Redis Cluster hash tag: all of an experiment's
 * keys land on one slot, so the router's cohort script may touch several at once.
 */
#ifndef SY_WIRE_KEYS_H
#define SY_WIRE_KEYS_H

/* The event spool: stream the router appends to, ingest's consumer group, and where
 * ingest copies an event it cannot convert. */
#define WIRE_EVENTS_STREAM "sy:events"
#define WIRE_EVENTS_GROUP "ingest"
#define WIRE_EVENTS_DEAD_STREAM "sy:events:dead"

/* hash: the experiment's live state (phase, routed_bp, ...) the controller writes */
#define WIRE_KEY_STATE "sy:{%s}:state"
/* pub/sub channel the controller publishes a state version on; same name as the hash */
#define WIRE_CHANNEL_STATE WIRE_KEY_STATE
/* hash: user hash -> forced cohort */
#define WIRE_KEY_FORCED "sy:{%s}:forced"
/* hash: a user's sticky cohort record (bucket, cohort, first/last seen, one "seen:<step>"
 * field per rollout step), expiring after 90 days */
#define WIRE_KEY_USER "sy:{%s}:user:%s"
/* string: the model a conversation's first turn was served (router/chat_sticky.c), by a
 * hash of project, user and conversation; expires sticky_ttl_s after the last turn */
#define WIRE_KEY_CONV "sy:{%s}:conv:%s"
/* hash: "<step>:<cohort>" -> users first exposed in that rollout step, for the SRM check */
#define WIRE_KEY_EXPOSURES "sy:{%s}:exposures"

#endif
