/* common.h: the scalar type of all model math and small shared helpers.
 * mt_real is float in the library; the gradient tests build a second copy of the library
 * with -DMT_DOUBLE so every layer and the whole model can be checked by finite differences
 * in double precision with the same source. Files on disk are always float32. */
#ifndef MT_COMMON_H
#define MT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef MT_DOUBLE
typedef double mt_real;
#else
typedef float mt_real;
#endif

#define MT_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MT_MAX(a, b) ((a) > (b) ? (a) : (b))
#define MT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation helpers: NULL on failure (callers report MTREC_ERR_NOMEM), never abort.
 * mt_alloc_aligned returns 64-byte aligned memory released with free(). */
void *mt_alloc_aligned(size_t bytes);
void *mt_calloc_aligned(size_t bytes);
char *mt_strdup(const char *s);
char *mt_strndup(const char *s, size_t n);

/* A process-wide on/off switch for an optional code path (e.g. a kernel for a wider ISA),
 * kept in *state (initially -1). set -1 asks (the first call decides: on unless the
 * environment variable env_name is "0"), 0/1 sets it (tests); on only where available()
 * says the CPU can run it. Returns the switch. */
int mt_switch(int *state, int set, const char *env_name, int (*available)(void));

/* Monotonic wall clock in seconds. */
double mt_now(void);

#endif
