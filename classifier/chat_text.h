/*
 * What the classifier judges in a chat request's "messages", in one walk from the end:
 * the last user message's text (a string, or its text parts each followed by a newline)
 * and, for clf_classify_chat(), the text of the messages before it, nearest first kept,
 * at most CLF_CONTEXT_BYTES (clf_chat_text_first: the same for the first user message).
 * Shared by the router (router/chat_route.c) and
 * `switchyard classifier` (training and eval rows), so both judge the same text.
 */
#ifndef SY_CLASSIFIER_CHAT_TEXT_H
#define SY_CLASSIFIER_CHAT_TEXT_H

#include <stddef.h>

#include <jansson.h>

#include "classifier/classifier.h"

struct clf_chat_text {
    const char *text; /* the last user turn ("" when there is none); valid while messages
                       * and this struct live */
    size_t len;
    const char *context; /* the earlier turns, oldest first; clen 0 when none */
    size_t clen;
    char *owned; /* the joined text parts, when the last user turn has parts */
    char ctx[CLF_CONTEXT_BYTES];
};

/* Never fails: out of memory leaves text "" (the router then classifies nothing). */
void clf_chat_text(json_t *messages, struct clf_chat_text *out);
/* The same for the conversation's first turn, as it was judged when it was the last one:
 * the first user message, and the messages before it (a system prompt) as the context.
 * router/chat_sticky.c computes a follow-up's first-turn model again with it. */
void clf_chat_text_first(json_t *messages, struct clf_chat_text *out);
void clf_chat_text_free(struct clf_chat_text *t);

#endif
