/* common.c: allocation helpers, run-time switches and the clock (see common.h). */
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

int mt_switch(int *state, int set, const char *env_name, int (*available)(void)) {
    /* relaxed atomics: every thread that decides computes the same value */
    int v = __atomic_load_n(state, __ATOMIC_RELAXED);
    if (v < 0 || set >= 0) {
        const char *env = getenv(env_name);
        int want = set >= 0 ? set : !(env && env[0] == '0');
        v = want && available();
        __atomic_store_n(state, v, __ATOMIC_RELAXED);
    }
    return v;
}

double mt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
