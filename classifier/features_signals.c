/*
 * Feature extraction, the structural signals: the table of signals (name, weight
 * group, bin edges; its X-macro is in features_internal.h), the value of each signal
 * from the scan's counters, and the "name:bin" <-> slot mapping for tests and
 * debugging.
 */
#include "classifier/features_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define X_DEF(id, name, w, n, ...) {name, w, n, __VA_ARGS__},
const struct signal_def clf_signals[SIG_COUNT] = {CLF_SIGNALS(X_DEF)};
#undef X_DEF

int clf_signal_first_slot(int sig)
{
    int slot = 0;
    for (int i = 0; i < sig; i++)
        slot += clf_signals[i].nedges + 1;
    return slot;
}

void clf_signal_values(const struct counters *k, size_t len, size_t window,
                       double v[SIG_COUNT])
{
    double tokens = k->words;
    if (window > 0 && window < len)
        tokens = k->words * ((double)len / (double)window);
    double nonspace = k->nonspace > 0 ? k->nonspace : 1;
    double words = k->words > 0 ? k->words : 1;
    double lines = k->lines > 0 ? k->lines : 1;
    v[SIG_FENCE_LINES] = k->fences;
    v[SIG_SYM_RATIO] = k->sym / nonspace;
    v[SIG_KW_RATIO] = k->keywords / words;
    v[SIG_DIGIT_RATIO] = k->digits / nonspace;
    v[SIG_MATH_OPS] = k->math_ops;
    v[SIG_QMARKS] = k->qmarks;
    v[SIG_ENDS_Q] = k->ends_q;
    v[SIG_STARTS_WH] = k->starts_wh;
    v[SIG_TOKENS] = tokens;
    v[SIG_LINES] = k->lines;
    v[SIG_PARAGRAPHS] = k->paragraphs;
    v[SIG_DOC_MARKERS] = k->doc_markers;
    v[SIG_SPEAKER_RATIO] = k->lines >= 3 ? k->speaker / lines : 0;
    v[SIG_LOG_LINES] = k->log;
    v[SIG_DIFF_LINES] = k->diff;
    v[SIG_INDENT_LINES] = k->indent;
    v[SIG_NONASCII_RATIO] = k->nonascii / nonspace;
    v[SIG_EMAIL_MARKS] = k->email;
    v[SIG_LIST_LINES] = k->list;
    v[SIG_URLS] = k->urls;
    v[SIG_LATEX] = k->latex;
    v[SIG_OPTIONS] = k->options;
    v[SIG_QUOTE_LINES] = k->quote;
    v[SIG_NUMBERS] = k->numbers;
    v[SIG_TRUNCATED] = window < len;
    v[SIG_HEADINGS] = k->headings;

}

int clf_feature_index_struct(const char *name)
{
    /* "signal:bin", e.g. "fence_lines:1" */
    const char *colon = strchr(name, ':');
    if (!colon)
        return -1;
    size_t n = (size_t)(colon - name);
    int bin = atoi(colon + 1);
    for (int i = 0; i < SIG_COUNT; i++)
        if (strlen(clf_signals[i].name) == n && !memcmp(clf_signals[i].name, name, n)) {
            if (bin < 0 || bin > clf_signals[i].nedges)
                return -1;
            return clf_signal_first_slot(i) + bin + 1;
        }
    return -1;
}

const char *clf_feature_struct_name(int index)
{
    static _Thread_local char buf[48];
    int slot = index - 1;
    for (int i = 0; i < SIG_COUNT; i++) {
        int first = clf_signal_first_slot(i);
        if (slot >= first && slot <= first + clf_signals[i].nedges) {
            snprintf(buf, sizeof(buf), "%s:%d", clf_signals[i].name, slot - first);
            return buf;
        }
    }
    return NULL;
}
