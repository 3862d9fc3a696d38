/*
 * libFuzzer target: the feedback webhook's parser and validator, and the
 * signature header parser, on arbitrary bytes.
 *
 * The first input byte picks the path (feedback or labels, max items); the rest
 * is the body. Invariants checked beyond "no crash, no leak": every item has
 * either an error that starts with its own path, or a 64-hex content hash; a
 * folded repeat points at an earlier valid item; the canonical time round-trips and is
 * never beyond the allowed clock skew; a valid label names one of the task types.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router/feedback_parse.h"
#include "wire/sig.h"

#include "wire/task.h"

/* the time of receipt the target pretends (2026-11-28T03:00:00Z) and the allowed skew */
#define FUZZ_NOW_US 1795834800000000LL
#define FUZZ_SKEW_S 300

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int labels = data[0] & 1;
    size_t max_items = 1 + (data[0] >> 1) % 8;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    rt_fb_batch b;
    char err[512];
    rt_fb_parse_status st = labels ? rt_fb_parse_labels(body, len, max_items, &b, err, sizeof(err))
                                   : rt_fb_parse_feedback(body, len, max_items, FUZZ_NOW_US,
                                                          FUZZ_SKEW_S, &b, err, sizeof(err));
    if (st == RT_FB_PARSE_BODY && strncmp(err, "body: ", 6))
        abort();
    if (st == RT_FB_PARSE_OK) {
        size_t nerr = 0;
        for (size_t i = 0; i < b.n; i++) {
            const char *e = labels ? b.labels[i].error : b.items[i].error;
            int dup = labels ? b.labels[i].dup_of : b.items[i].dup_of;
            if (e) {
                nerr++;
                char path[320];
                rt_fb_error_path(e, path, sizeof(path));
                if (!path[0])
                    abort();
                continue;
            }
            if (dup >= (int)i || (dup >= 0 && (labels ? b.labels[dup].error : b.items[dup].error)))
                abort();
            if (!labels) {
                const rt_fb_item *it = &b.items[i];
                if (strlen(it->content_hash) != 64 || !it->feedback_id || !it->request_id)
                    abort();
                if (it->has_created_at) {
                    int64_t us;
                    if (rt_fb_parse_rfc3339(it->created_at, &us) || us != it->created_at_us)
                        abort();
                    if (us > FUZZ_NOW_US + FUZZ_SKEW_S * 1000000LL) /* the skew rule held */
                        abort();
                }
            } else {
                wire_task t; /* only the classifier's task types pass */
                if (wire_task_parse(b.labels[i].task_type, &t) != 0)
                    abort();
            }
        }
        if (nerr != b.nerrors)
            abort();
    }
    rt_fb_batch_free(&b);

    /* the same bytes as a signature header (NUL-terminated copy) */
    char *hdr = malloc(len + 1);
    if (!hdr)
        return 0;
    memcpy(hdr, body, len);
    hdr[len] = '\0';
    wire_sig_secret s = {"k", 1};
    int m;
    (void)wire_sig_verify(hdr, data, size, 1700000000, 300, &s, 1, &m);
    int64_t us;
    if (rt_fb_parse_rfc3339(hdr, &us) == 0) {
        char canon[32];
        int64_t back;
        rt_fb_format_utc(us, canon, sizeof(canon));
        if (us >= 0 && (rt_fb_parse_rfc3339(canon, &back) || back != us))
            abort();
    }
    free(hdr);
    return 0;
}
