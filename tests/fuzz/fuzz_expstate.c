/*
 * libFuzzer target: the experiment state the router reads from Redis
 * (experiments/routing.c, exp_state_parse over the HGETALL of sy:{exp}:state).
 * Redis is outside input: a controller of another version, or anyone who can write
 * the key. The input is "name=value" lines.
 *
 * Invariants beyond "no crash": an accepted state has a known phase, shares in
 * 0..10000 basis points, a non-empty NUL-terminated salt and only task bits; written
 * back as the controller writes it (phase name, numbers, comma list of task types) it
 * parses to the same state (round trip).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/routing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FIELDS 16

static void same(const exp_state *a, const exp_state *b)
{
    if (a->phase != b->phase || a->routed_bp != b->routed_bp || a->holdout_bp != b->holdout_bp ||
        strcmp(a->salt, b->salt) || a->held_back != b->held_back || a->version != b->version)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    const char *names[MAX_FIELDS], *values[MAX_FIELDS];
    size_t n = 0;
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (char *p = buf; *p && n < MAX_FIELDS;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        char *eq = strchr(p, '=');
        if (eq) {
            *eq = '\0';
            names[n] = p;
            values[n++] = eq + 1;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    exp_state st;
    char err[256];
    err[0] = '\0';
    if (exp_state_parse(names, values, n, &st, err, sizeof(err)) != 0) {
        if (!err[0])
            abort(); /* a refusal always says why */
        free(buf);
        return 0;
    }
    if (st.phase < 0 || st.phase >= EXP_NPHASES || st.routed_bp < 0 || st.routed_bp > 10000 ||
        st.holdout_bp < 0 || st.holdout_bp > 10000 || !st.salt[0] ||
        !memchr(st.salt, '\0', sizeof(st.salt)) || (st.held_back >> WIRE_NTASKS) != 0)
        abort();

    char routed[16], holdout[16], version[24], held[128];
    size_t hl = 0;
    held[0] = '\0';
    for (int t = 0; t < WIRE_NTASKS; t++)
        if (st.held_back & (1u << t))
            hl += (size_t)snprintf(held + hl, sizeof(held) - hl, "%s%s", hl ? "," : "",
                                   wire_task_str((wire_task)t));
    snprintf(routed, sizeof(routed), "%d", st.routed_bp);
    snprintf(holdout, sizeof(holdout), "%d", st.holdout_bp);
    snprintf(version, sizeof(version), "%llu", (unsigned long long)st.version);
    const char *n2[] = {"phase", "routed_bp", "holdout_bp", "salt", "held_back", "version"};
    const char *v2[] = {exp_phase_str(st.phase), routed, holdout, st.salt, held, version};
    exp_state back;
    if (exp_state_parse(n2, v2, 6, &back, err, sizeof(err)) != 0)
        abort();
    same(&st, &back);
    free(buf);
    return 0;
}
