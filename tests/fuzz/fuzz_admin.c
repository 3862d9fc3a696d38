/*
 * libFuzzer target: the controller's own parsers of request input (controller/): the
 * admin API's path, /admin/experiments[/NAME[/VERB]] (ctl_admin_path), and the console
 * session cookie in a Cookie header (ctl_cookie_find). The bodies are jansson's and the
 * experiment definition's (fuzz_config).
 *
 * Invariants beyond "no crash": an accepted path is rebuilt byte for byte from its name
 * and verb, which hold no '/' and fit their limits; a refused one leaves both empty. A
 * found cookie value lies inside the header, right after "sy_console=" at the start of
 * a cookie, holds no ';' and ends in no space.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controller/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_path(const char *path)
{
    char name[CTL_NAME_MAX + 1], verb[CTL_VERB_MAX + 1];
    if (ctl_admin_path(path, name, verb)) {
        if (name[0] || verb[0])
            abort();
        return;
    }
    size_t nl = strlen(name), vl = strlen(verb);
    if (nl > CTL_NAME_MAX || vl > CTL_VERB_MAX || strchr(name, '/') || strchr(verb, '/') ||
        (vl && !nl))
        abort();
    static char back[CTL_NAME_MAX + CTL_VERB_MAX + 32];
    size_t n = 0;
    memcpy(back, "/admin/experiments", 18);
    n = 18;
    if (nl) {
        back[n++] = '/';
        memcpy(back + n, name, nl);
        n += nl;
    }
    if (vl) {
        back[n++] = '/';
        memcpy(back + n, verb, vl);
        n += vl;
    }
    back[n] = '\0';
    if (strcmp(back, path))
        abort();
}

static void check_cookie(const char *h)
{
    size_t len = 0;
    const char *v = ctl_cookie_find(h, &len);
    if (!v)
        return;
    size_t hl = strlen(h), nlen = strlen(CTL_COOKIE_NAME);
    if (v < h + nlen + 1 || v + len > h + hl)
        abort();
    if (memcmp(v - nlen - 1, CTL_COOKIE_NAME "=", nlen + 1))
        abort();
    const char *start = v - nlen - 1;
    if (start != h && start[-1] != ' ' && start[-1] != ';')
        abort();
    if (memchr(v, ';', len) || (len && v[len - 1] == ' '))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check_path(s);
    check_cookie(s);
    /* the same bytes behind the API's prefix, so the mutator reaches names and verbs */
    char *p = malloc(size + 20);
    if (p) {
        memcpy(p, "/admin/experiments/", 19);
        memcpy(p + 19, s, size + 1);
        check_path(p);
        free(p);
    }
    free(s);
    return 0;
}
