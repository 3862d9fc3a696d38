#include "classifier/chat_text.h"

#include <stdlib.h>
#include <string.h>

/* Prepends the last bytes of s[0..n) and a newline to the context, which fills from the
 * end of ctx[] down to *pos. */
static void ctx_prepend(struct clf_chat_text *t, size_t *pos, const char *s, size_t n)
{
    if (*pos == 0)
        return;
    t->ctx[--*pos] = '\n';
    size_t take = n < *pos ? n : *pos;
    *pos -= take;
    memcpy(t->ctx + *pos, s + n - take, take);
}

static void ctx_add_message(struct clf_chat_text *t, size_t *pos, json_t *m)
{
    json_t *content = json_object_get(m, "content");
    if (json_is_string(content)) {
        ctx_prepend(t, pos, json_string_value(content), json_string_length(content));
        return;
    }
    for (size_t j = json_array_size(content); j-- > 0 && *pos > 0;) {
        json_t *tx = json_object_get(json_array_get(content, j), "text");
        if (json_is_string(tx))
            ctx_prepend(t, pos, json_string_value(tx), json_string_length(tx));
    }
}

/* The last user message's text; false when it has neither a string nor parts. */
static int last_user(json_t *m, struct clf_chat_text *t)
{
    json_t *content = json_object_get(m, "content");
    if (json_is_string(content)) {
        t->text = json_string_value(content);
        t->len = json_string_length(content);
        return 1;
    }
    if (!json_is_array(content))
        return 0;
    size_t total = 0, j, n = 0;
    json_t *part;
    json_array_foreach(content, j, part)
        total += json_string_length(json_object_get(part, "text")) + 1;
    char *buf = malloc(total + 1);
    if (!buf)
        return 0;
    json_array_foreach(content, j, part) {
        json_t *tx = json_object_get(part, "text");
        if (!json_is_string(tx))
            continue;
        memcpy(buf + n, json_string_value(tx), json_string_length(tx));
        n += json_string_length(tx);
        buf[n++] = '\n';
    }
    buf[n] = '\0';
    t->owned = buf;
    t->text = buf;
    t->len = n;
    return 1;
}

/* The user message at index i (or nothing when there is none or it has no text) and the
 * messages before it as the context. */
static void chat_text_at(json_t *messages, size_t i, struct clf_chat_text *out)
{
    out->text = "";
    out->len = 0;
    out->context = out->ctx + sizeof(out->ctx);
    out->clen = 0;
    out->owned = NULL;
    if (i == (size_t)-1 || !last_user(json_array_get(messages, i), out))
        return;
    size_t pos = sizeof(out->ctx);
    while (i-- > 0 && pos > 0)
        ctx_add_message(out, &pos, json_array_get(messages, i));
    out->context = out->ctx + pos;
    out->clen = sizeof(out->ctx) - pos;
}

static int is_user(json_t *m)
{
    const char *role = json_string_value(json_object_get(m, "role"));
    return role && !strcmp(role, "user");
}

void clf_chat_text(json_t *messages, struct clf_chat_text *out)
{
    size_t i = json_array_size(messages);
    while (i-- > 0 && !is_user(json_array_get(messages, i)))
        ;
    chat_text_at(messages, i, out);
}

void clf_chat_text_first(json_t *messages, struct clf_chat_text *out)
{
    size_t i, n = json_array_size(messages);
    for (i = 0; i < n && !is_user(json_array_get(messages, i)); i++)
        ;
    chat_text_at(messages, i < n ? i : (size_t)-1, out);
}

void clf_chat_text_free(struct clf_chat_text *t)
{
    free(t->owned);
    t->owned = NULL;
}
