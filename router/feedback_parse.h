/*
 * feedback_parse: the pure half of POST /v1/feedback and POST /v1/labels.
 *
 *   JSON text -> validated items, or the first error with its JSON path
 *
 * No I/O, no clock: the fuzzer and the unit tests call it directly. Paths are
 * "[3].value" for the fourth item of a batch, "value" for a single object, and
 * "body" for the body as a whole. Messages are "<path>: <reason>".
 *
 * A batch is checked whole: every item gets its own error (or none), so the
 * endpoint can answer all-or-nothing (first error) or per item. Repeated keys
 * inside one batch are folded: an identical repeat points at the first
 * occurrence (dup_of), a repeat with other content is an error on the repeat.
 */
#ifndef SY_RT_FEEDBACK_PARSE_H
#define SY_RT_FEEDBACK_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define RT_FB_ID_MAX 256          /* feedback_id, request_id, user_id, labeller: bytes */
#define RT_FB_COMMENT_MAX 4096    /* comment: bytes of UTF-8 */
#define RT_FB_TASK_TYPE_MAX 64
#define RT_FB_PROMPT_MAX 32768    /* label prompt: bytes of UTF-8 */

typedef enum { RT_FB_THUMB, RT_FB_RATING, RT_FB_COMMENT, RT_FB_TICKET } rt_fb_kind;

/* The kind as the webhook names it ("thumb") and as the feedback table stores it
 * ("thumbs": migrations/0001 spells it that way). */
const char *rt_fb_kind_str(rt_fb_kind k);
const char *rt_fb_kind_column(rt_fb_kind k);

typedef struct rt_fb_item {
    const char *feedback_id; /* all strings point into the parsed document */
    const char *request_id;
    rt_fb_kind kind;
    const char *value;       /* thumb: "up"/"down"; ticket: severity or NULL; else NULL */
    int rating;              /* rating: 1..5; else 0 */
    const char *comment;     /* NULL when absent */
    char user_hash[17];      /* exp_user_hash(user_id); "" when absent */
    int has_created_at;
    int64_t created_at_us;   /* microseconds since the epoch, UTC */
    char created_at[32];     /* canonical "YYYY-MM-DDTHH:MM:SS.ffffffZ"; "" when absent */
    char content_hash[65];   /* SHA-256 hex of the canonical form */
    int dup_of;              /* -1, or index of an identical earlier item in the batch */
    char *error;             /* "<path>: <reason>" or NULL (owned) */
} rt_fb_item;

typedef struct rt_label_item {
    const char *request_id;
    const char *labeller;
    const char *task_type;
    const char *prompt;      /* the prompt judged (classifier retraining), or NULL */
    int dup_of;
    char *error;
} rt_label_item;

typedef struct rt_fb_batch {
    void *doc;             /* the parsed JSON document (owns the strings) */
    int is_array;          /* body was an array (paths "[i].x") or one object ("x") */
    size_t n;
    rt_fb_item *items;     /* feedback: n items, or NULL */
    rt_label_item *labels; /* labels: n items, or NULL */
    size_t nerrors;        /* items with an error */
    size_t first_error;    /* index of the first item with an error (when nerrors) */
} rt_fb_batch;

typedef enum { RT_FB_PARSE_OK = 0, RT_FB_PARSE_BODY = -1, RT_FB_PARSE_NOMEM = -2 } rt_fb_parse_status;

/*
 * Parse and validate a feedback body (one object or an array of 1..max_items).
 * A created_at later than now_us + max_skew_s seconds is an item error (the sender's
 * clock cannot be that far ahead; max_skew_s < 0: no limit). now_us is the time of
 * receipt, passed in so the parser stays clock-free.
 * RT_FB_PARSE_OK: *out holds every item; item errors are in items[i].error.
 * RT_FB_PARSE_BODY: the body as a whole is unusable; err says why ("body: ...").
 * Free *out with rt_fb_batch_free() whatever the result.
 */
rt_fb_parse_status rt_fb_parse_feedback(const char *json, size_t len, size_t max_items,
                                        int64_t now_us, int max_skew_s, rt_fb_batch *out,
                                        char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The same for labels: {"request_id", "task_type", "labeller", optional "prompt"};
 * task_type must be one of the classifier's task types (wire/task.h: simple, code,
 * reasoning, complex), since no other value can serve the accuracy audit or retraining. */
rt_fb_parse_status rt_fb_parse_labels(const char *json, size_t len, size_t max_items,
                                      rt_fb_batch *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

void rt_fb_batch_free(rt_fb_batch *b);

/* The path part of an error message ("[3].value" of "[3].value: reason") into out. */
void rt_fb_error_path(const char *error, char *out, size_t outlen);

/* RFC 3339 date-time -> microseconds since the epoch. 0 on success, -1 if invalid. */
int rt_fb_parse_rfc3339(const char *s, int64_t *us) __attribute__((warn_unused_result));

/* Canonical UTC form of a time: "YYYY-MM-DDTHH:MM:SS.ffffffZ" (out >= 28 bytes). */
void rt_fb_format_utc(int64_t us, char *out, size_t outlen);

/* The hash of an item key of one or two parts (b may be NULL): FNV-1a with a
 * 0xff separator. The parser folds repeats with it and feedback.c matches the
 * rows the database returns with it. */
uint64_t rt_fb_key_hash(const char *a, const char *b);

#endif
