/*
 * usage: the token counts of a provider's buffered answer, from its root
 * object's "usage" member.
 */
#ifndef SY_RT_USAGE_H
#define SY_RT_USAGE_H

#include <stddef.h>

#include "experiments/config.h"

/* usage.prompt_tokens, usage.completion_tokens and
 * usage.prompt_tokens_details.cached_tokens of the answer body into u->in,
 * u->out and u->cached (cache_write 0: OpenAI reports none), each as jansson's
 * json_integer_value() would give it (0 when missing or not an integer); *u is
 * left alone when there is no usage object. The usage member is looked for in
 * the last 4 KiB first (where providers put it), else the whole body is parsed. */
void rt_usage_read(const char *body, size_t len, exp_usage *u);

/* The fast path for one usage object, text [p, p + len) exactly: a JSON
 * object whose keys are printable ASCII without escapes and whose values
 * are integers, null, true, false or such objects (8 levels at most), e.g.
 * {"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,
 *  "prompt_tokens_details":{"cached_tokens":0}}. Returns 0 and the three
 * counts (last duplicate wins; 0 when missing or not an integer), exactly
 * what parsing it with jansson gives; -1 for anything else (other JSON,
 * integers out of range, invalid text), which the caller parses with
 * jansson. */
int rt_usage_parse_simple(const char *p, size_t len, long long *prompt, long long *completion,
                          long long *cached) __attribute__((warn_unused_result));

#endif
