/*
 * sim_server: the simulator's HTTP endpoints on common/httpd.
 *
 *   POST /v1/chat/completions  OpenAI wire: plain or stream (SSE), faults, pacing
 *   POST /v1/messages          Anthropic Messages wire, the same for its models
 *   GET  /v1/models            catalog with quality profiles and tier hints
 *   GET  /v1/models/{id}       one model
 *   GET  /healthz              {"status":"ok", counters}
 *
 * A model answers on the endpoint of its catalog "wire" only; the other one
 * refuses it as that provider refuses a model it does not have (404).
 * Faults and errors take the shape of the endpoint's provider.
 *
 * A completion that cannot be answered inside the handler (latency, a
 * stream, a held "timeout") becomes a sim_call, a small state machine driven
 * by one libevent timer (see sim_server.c).
 */
#ifndef SY_SIM_SERVER_H
#define SY_SIM_SERVER_H

#include <stdint.h>

#include "sim/sim_model.h"

struct event_base;
typedef struct sim_server sim_server;

/* Counters, one X-macro list: /healthz and the exit log line print them all. */
#define SIM_STATS(X)                                                                            \
    X(requests)        /* every request the handler saw */                                      \
    X(completions)     /* plain completions answered 200 */                                     \
    X(streams)         /* streams finished with [DONE] */                                       \
    X(invalid)         /* 4xx for bad input, unknown model, path or method */                   \
    X(fault_500)                                                                                \
    X(fault_429)                                                                                \
    X(fault_timeout)                                                                            \
    X(fault_close)                                                                              \
    X(fault_midstream)                                                                          \
    X(fault_529)                                                                                \
    X(client_gone)     /* client left before the answer was complete */

typedef struct sim_stats {
#define SIM_STAT_FIELD(name) unsigned long long name;
    SIM_STATS(SIM_STAT_FIELD)
#undef SIM_STAT_FIELD
} sim_stats;

/* cat must outlive the server. */
int sim_server_new(struct event_base *base, const sim_catalog *cat, uint64_t seed,
                   sim_server **out) SIM_MUSTCHECK;
int sim_server_listen(sim_server *s, const char *host, int port, int *bound_port) SIM_MUSTCHECK;
const sim_stats *sim_server_stats(const sim_server *s);
/* Stop accepting and drop every call in flight (held, paced or streaming). */
void sim_server_shutdown(sim_server *s);
void sim_server_free(sim_server *s);

#endif
