#include "router/seen.h"

#include <stdlib.h>
#include <string.h>

struct seen_slot {
    uint64_t key; /* 0: empty */
    int64_t until_us;
};

struct rt_seen {
    struct seen_slot slot[RT_SEEN_SLOTS];
};

rt_seen *rt_seen_new(void) { return calloc(1, sizeof(rt_seen)); }

void rt_seen_free(rt_seen *s) { free(s); }

void rt_seen_clear(rt_seen *s) { memset(s, 0, sizeof(*s)); }

int rt_seen_check(rt_seen *s, uint64_t key, int64_t ts_us)
{
    key |= 1; /* 0 marks an empty slot */
    struct seen_slot *set =
        &s->slot[(key >> 32) % (RT_SEEN_SLOTS / RT_SEEN_WAYS) * RT_SEEN_WAYS];
    struct seen_slot *e = set;
    for (int i = 0; i < RT_SEEN_WAYS; i++) {
        if (set[i].key == key) {
            if (ts_us < set[i].until_us)
                return 1;
            e = &set[i];
            break;
        }
        if (set[i].until_us < e->until_us) /* empty (0) or expiring first: replaced */
            e = &set[i];
    }
    e->key = key;
    e->until_us = ts_us + RT_SEEN_US;
    return 0;
}
