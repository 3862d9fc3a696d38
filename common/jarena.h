/*
 * jarena: the JSON trees of one request, allocated from an arena.
 *
 * Parsing a request body with jansson costs one malloc per JSON value (about 30 for a
 * small chat) and as many frees when the tree is released. An arena takes them from a
 * block the worker keeps: an allocation is a pointer bump, a free of it does nothing,
 * and the whole arena goes back at once when the request ends.
 *
 * sy_jarena_install() replaces jansson's allocator for the whole process, once, before
 * the first jansson call. Arena blocks (8 KB) come from one region of address space
 * reserved at install; the allocator's free() ignores pointers into the region and
 * passes every other one to free(). So a tree may mix both (a node added after the
 * parse comes from malloc), json_decref() stays correct for every tree, whoever made
 * it, and outside an arena jansson behaves exactly as before. Between
 * sy_jarena_enter(a) and sy_jarena_leave(), this thread's jansson allocations of up
 * to 1 KB come from a; larger ones (long strings) still use malloc.
 *
 * Enter an arena only around json_loadb() and the like: a string json_dumps() makes
 * inside an arena would be arena memory, and its caller's free() would crash.
 *
 * The rule that keeps it safe: nothing allocated in an arena is used after
 * sy_jarena_release() of that arena. The router keeps a chat's trees in the chat and
 * releases the arena where it drops them. Under AddressSanitizer a released block is
 * poisoned until it is handed out again, so a tree used after its request is reported.
 */
#ifndef SY_JARENA_H
#define SY_JARENA_H

#include <stddef.h>

/* The size of an arena block: the tree of a chat of a few KB fits in one. */
#define SY_JARENA_BLK_SIZE 8192

struct sy_jarena_blk;

typedef struct sy_jarena {
    struct sy_jarena_blk *blk; /* blocks, newest first; NULL: none yet */
    char *cur, *end;           /* free space in blk */
} sy_jarena;

#define SY_JARENA_INIT {NULL, NULL, NULL}

/* Replace jansson's allocator (json_set_alloc_funcs). Call once, before any jansson
 * call of the process; calling it again does nothing. */
void sy_jarena_install(void);

/* This thread's jansson allocations come from a until sy_jarena_leave(). They do not
 * nest: enter replaces the current arena. Without sy_jarena_install() they do nothing. */
void sy_jarena_enter(sy_jarena *a);
void sy_jarena_leave(void);

/* Give a's blocks back to the region's free list (the first 128 free blocks stay warm;
 * past those the pages go back to the kernel). a is empty afterwards and may be used
 * again. Any thread may release any arena. */
void sy_jarena_release(sy_jarena *a);

#endif
