/* common.c: allocation helpers and the clock (see common.h). */
#include "util/common.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void *mt_alloc_aligned(size_t bytes) {
    void *p = NULL;
    if (bytes == 0) bytes = 64;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, rounded) != 0) return NULL;
    return p;
}

void *mt_calloc_aligned(size_t bytes) {
    void *p = mt_alloc_aligned(bytes);
    if (p) memset(p, 0, bytes ? bytes : 64);
    return p;
}

char *mt_strdup(const char *s) { return s ? mt_strndup(s, strlen(s)) : NULL; }

char *mt_strndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

double mt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
