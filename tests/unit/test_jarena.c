/* common/jarena.h: a parse inside an arena takes its nodes from the arena's block,
 * trees mixing arena and malloc nodes decref correctly, json_dumps() strings stay
 * malloc's, large strings bypass the arena, and released blocks are reused. Run under
 * ASan+UBSan too (make asan-check), where a leak or a bad free fails the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>

#include "common/jarena.h"

static int in_first_blk(const sy_jarena *a, const void *p)
{
    const char *b = (const char *)a->blk;
    return b && (const char *)p >= b && (const char *)p < b + SY_JARENA_BLK_SIZE;
}

static json_t *parse_in(sy_jarena *a, const char *text)
{
    json_error_t err;
    sy_jarena_enter(a);
    json_t *t = json_loads(text, 0, &err);
    sy_jarena_leave();
    assert_non_null(t);
    return t;
}

static int setup(void **state)
{
    (void)state;
    sy_jarena_install();
    sy_jarena_install(); /* twice is once */
    return 0;
}

static void test_parse_uses_arena(void **state)
{
    (void)state;
    sy_jarena a = SY_JARENA_INIT;
    json_t *t = parse_in(&a, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assert_non_null(a.blk);
    assert_true(in_first_blk(&a, t));
    json_t *m = json_object_get(t, "model");
    assert_true(in_first_blk(&a, m));
    assert_true(in_first_blk(&a, json_string_value(m)));
    /* outside the arena jansson allocates from malloc as always */
    json_t *s = json_string("outside");
    assert_false(in_first_blk(&a, s));
    json_decref(s);
    json_decref(t);
    sy_jarena_release(&a);
    assert_null(a.blk);
}

static void test_mixed_tree_and_dumps(void **state)
{
    (void)state;
    sy_jarena a = SY_JARENA_INIT;
    json_t *t = parse_in(&a, "{\"a\":[1,2,3],\"b\":\"x\"}");
    /* nodes added after the parse come from malloc, and the tree's arrays and
     * objects grow (a malloc'd table replacing an arena one) */
    json_t *arr = json_object_get(t, "a");
    for (int i = 0; i < 100; i++)
        assert_int_equal(json_array_append_new(arr, json_integer(i)), 0);
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        assert_int_equal(json_object_set_new(t, k, json_string(k)), 0);
    }
    assert_int_equal(json_array_size(arr), 103);
    /* a string dumped from an arena tree is malloc's: free() takes it */
    char *s = json_dumps(json_object_get(t, "b"), JSON_ENCODE_ANY);
    assert_string_equal(s, "\"x\"");
    free(s);
    /* a subtree taken from the arena tree into a malloc'd one outlives the first
     * tree's decref, up to the arena's release */
    json_t *other = json_object();
    json_object_set(other, "a", arr);
    json_decref(t);
    assert_int_equal(json_integer_value(json_array_get(arr, 102)), 99);
    json_decref(other);
    sy_jarena_release(&a);
}

static void test_big_strings_bypass(void **state)
{
    (void)state;
    size_t n = 5000;
    char *text = malloc(n + 3);
    text[0] = '"';
    memset(text + 1, 'z', n);
    text[n + 1] = '"';
    text[n + 2] = 0;
    sy_jarena a = SY_JARENA_INIT;
    json_error_t err;
    sy_jarena_enter(&a);
    json_t *t = json_loads(text, JSON_DECODE_ANY, &err);
    sy_jarena_leave();
    assert_non_null(t);
    assert_int_equal(json_string_length(t), n);
    assert_false(in_first_blk(&a, json_string_value(t)));
    json_decref(t);
    sy_jarena_release(&a);
    free(text);
}

static void test_many_blocks_and_reuse(void **state)
{
    (void)state;
    /* a tree of ~4,000 values needs many blocks */
    json_t *src = json_array();
    for (int i = 0; i < 4000; i++)
        json_array_append_new(src, json_pack("{s:i}", "v", i));
    char *text = json_dumps(src, 0);
    json_decref(src);

    sy_jarena a = SY_JARENA_INIT;
    json_t *t = parse_in(&a, text);
    /* a block starts with the link to the one before it */
    int blocks = 0;
    void *first = NULL;
    for (void **b = (void **)a.blk; b; b = (void **)*b, blocks++)
        first = b;
    assert_true(blocks > 10);
    long sum = 0;
    for (size_t i = 0; i < json_array_size(t); i++)
        sum += json_integer_value(json_object_get(json_array_get(t, i), "v"));
    assert_int_equal(sum, 4000L * 3999 / 2);
    json_decref(t);
    sy_jarena_release(&a);

    /* released newest first, so the arena's first block is handed out next */
    sy_jarena b = SY_JARENA_INIT;
    t = parse_in(&b, "[1]");
    assert_ptr_equal(b.blk, first);
    json_decref(t);
    sy_jarena_release(&b);
    free(text);
}

static void test_release_while_current(void **state)
{
    (void)state;
    sy_jarena a = SY_JARENA_INIT;
    json_error_t err;
    sy_jarena_enter(&a);
    json_t *t = json_loads("[true]", 0, &err);
    json_decref(t);
    sy_jarena_release(&a); /* also leaves it */
    json_t *s = json_string("after");
    assert_null(a.blk);
    assert_false(in_first_blk(&a, s));
    json_decref(s);
}

/* With every block of the region in use, a parse falls back to malloc (its tree is
 * freed by json_decref as usual, which ASan's leak check holds to), and the blocks are
 * handed out again once released. Touches one page per block: 64 MiB. */
static void test_region_exhausted(void **state)
{
    (void)state;
    enum { MAX = 20000 }; /* more than the region's 16,384 blocks */
    sy_jarena *held = calloc(MAX, sizeof(*held));
    assert_non_null(held);
    int n = 0;
    json_t *t = NULL;
    for (; n < MAX; n++) {
        t = parse_in(&held[n], "[1]");
        if (!held[n].blk)
            break; /* no block left: this tree came from malloc */
        json_decref(t);
    }
    assert_true(n >= 16000 && n < MAX);
    assert_int_equal(json_integer_value(json_array_get(t, 0)), 1);
    json_decref(t);
    for (int k = 0; k < n; k++)
        sy_jarena_release(&held[k]);
    sy_jarena a = SY_JARENA_INIT;
    t = parse_in(&a, "[2]");
    assert_true(in_first_blk(&a, t));
    json_decref(t);
    sy_jarena_release(&a);
    free(held);
}

/* Each thread holds 100 arenas at once, so with 4 threads the free list passes its
 * 128 warm blocks and released blocks have their pages given back: a block still in
 * use must never be one of them (checked by reading every tree before releasing). */
#define HELD 100
static void *worker(void *arg)
{
    (void)arg;
    for (int round = 0; round < 40; round++) {
        sy_jarena a[HELD];
        json_t *t[HELD];
        for (int k = 0; k < HELD; k++) {
            json_error_t err;
            a[k] = (sy_jarena)SY_JARENA_INIT;
            sy_jarena_enter(&a[k]);
            t[k] = json_loads("{\"x\":[1,2,{\"y\":\"zz\"}],\"w\":\"v\"}", 0, &err);
            sy_jarena_leave();
            if (!t[k] || !in_first_blk(&a[k], t[k]))
                return (void *)1;
        }
        for (int k = 0; k < HELD; k++) {
            const char *w = json_string_value(json_object_get(t[k], "w"));
            if (!w || strcmp(w, "v") != 0)
                return (void *)2;
            json_decref(t[k]);
            sy_jarena_release(&a[k]);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        assert_int_equal(pthread_join(th[i], &r), 0);
        assert_null(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_uses_arena),   cmocka_unit_test(test_mixed_tree_and_dumps),
        cmocka_unit_test(test_big_strings_bypass), cmocka_unit_test(test_many_blocks_and_reuse),
        cmocka_unit_test(test_release_while_current), cmocka_unit_test(test_threads),
        cmocka_unit_test(test_region_exhausted),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
