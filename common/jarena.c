/* jarena: see jarena.h */
#include "common/jarena.h"

#include <jansson.h>
#include <pthread.h>
#include <sanitizer/asan_interface.h> /* no-ops unless built with ASan */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define BLK_SIZE SY_JARENA_BLK_SIZE
#define REGION_BLKS 16384 /* 128 MiB of address space, touched only as used */
#define KEEP_BLKS 128     /* free blocks past these give their pages back */
#define BIG 1024          /* larger allocations (long strings) use malloc */

/* A block in use starts with the link to its arena's previous block. */
struct sy_jarena_blk {
    struct sy_jarena_blk *next;
};
#define BLK_DATA(b) ((char *)(b) + 16) /* after the link, at malloc's alignment */

static char *region; /* NULL: not installed, or no address space */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t used;   /* blocks ever handed out */
static uint32_t *spare; /* indexes of free blocks, a stack: the warmest on top */
static uint32_t nspare;
static int give_back;   /* pages are no larger than a block */
static _Thread_local sy_jarena *current;

static int in_region(const void *p)
{
    return region && (const char *)p >= region &&
           (const char *)p < region + (size_t)REGION_BLKS * BLK_SIZE;
}

static int grow(sy_jarena *a)
{
    uint32_t i = REGION_BLKS;
    pthread_mutex_lock(&lock);
    if (nspare)
        i = spare[--nspare];
    else if (used < REGION_BLKS)
        i = used++;
    pthread_mutex_unlock(&lock);
    if (i == REGION_BLKS)
        return -1; /* out of blocks: malloc, as without an arena */
    struct sy_jarena_blk *b = (struct sy_jarena_blk *)(region + (size_t)i * BLK_SIZE);
    ASAN_UNPOISON_MEMORY_REGION(b, BLK_SIZE);
    b->next = a->blk;
    a->blk = b;
    a->cur = BLK_DATA(b);
    a->end = (char *)b + BLK_SIZE;
    return 0;
}

static void *j_malloc(size_t n)
{
    sy_jarena *a = current;
    if (a && n <= BIG) {
        size_t need = (n + 15) & ~(size_t)15; /* max_align_t, as malloc */
        if ((size_t)(a->end - a->cur) >= need || grow(a) == 0) {
            char *p = a->cur;
            a->cur += need;
            return p;
        }
    }
    return malloc(n);
}

/* Arena memory goes back with its arena; everything else is malloc's, so a string
 * from json_dumps() may still be given to free() by its caller. */
static void j_free(void *p)
{
    if (!in_region(p))
        free(p);
}

void sy_jarena_install(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    long page = sysconf(_SC_PAGESIZE);
    give_back = page > 0 && BLK_SIZE % page == 0;
    spare = malloc(REGION_BLKS * sizeof(*spare));
    void *m = mmap(NULL, (size_t)REGION_BLKS * BLK_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (!spare || m == MAP_FAILED) {
        free(spare);
        if (m != MAP_FAILED)
            munmap(m, (size_t)REGION_BLKS * BLK_SIZE);
        return; /* jansson keeps malloc: slower, the same */
    }
    region = m;
    ASAN_POISON_MEMORY_REGION(region, (size_t)REGION_BLKS * BLK_SIZE);
    json_set_alloc_funcs(j_malloc, j_free);
}

void sy_jarena_enter(sy_jarena *a) { current = region ? a : NULL; }

void sy_jarena_leave(void) { current = NULL; }

void sy_jarena_release(sy_jarena *a)
{
    if (current == a)
        current = NULL;
    if (!a->blk)
        return;
    /* A block is poisoned, and its pages given back, before it goes on the free list:
     * once there, another thread may take it. How many may stay warm is read once, a
     * hint: being off by a few blocks is harmless. */
    pthread_mutex_lock(&lock);
    uint32_t warm = nspare < KEEP_BLKS ? KEEP_BLKS - nspare : 0;
    pthread_mutex_unlock(&lock);
    struct sy_jarena_blk *b = a->blk, *next;
    for (uint32_t n = 0; b; b = next, n++) {
        next = b->next;
        uint32_t i = (uint32_t)(((char *)b - region) / BLK_SIZE);
        if (n >= warm && give_back)
            madvise(b, BLK_SIZE, MADV_DONTNEED);
        ASAN_POISON_MEMORY_REGION(b, BLK_SIZE);
        pthread_mutex_lock(&lock);
        spare[nspare++] = i;
        pthread_mutex_unlock(&lock);
    }
    a->blk = NULL;
    a->cur = a->end = NULL;
}
