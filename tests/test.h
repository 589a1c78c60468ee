/* test.h: the tiny test harness every tests/test_*.c uses.
 *
 *   static void test_something(void) { CHECK(x == 1); CHECK_NEAR(a, b, 1e-6); }
 *   int main(void) { RUN(test_something); return test_summary(); }
 *
 * A test passes when at least one CHECK ran and none failed (a test that asserts nothing
 * fails). Each binary prints one "TEST ok|FAIL name" line per test and a final
 * "TESTS <passed> <failed>" line that tests/run_tests.sh adds up; exit status is non-zero
 * on any failure. */
#ifndef MT_TEST_H
#define MT_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_checks, t_fails, t_passed, t_failed;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        t_checks++;                                                                      \
        if (!(cond)) {                                                                   \
            t_fails++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                \
    } while (0)

#define CHECK_MSG(cond, ...)                                                             \
    do {                                                                                 \
        t_checks++;                                                                      \
        if (!(cond)) {                                                                   \
            t_fails++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
        }                                                                                \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                            \
    do {                                                                                 \
        double a_ = (double)(a), b_ = (double)(b), tol_ = (double)(tol);                 \
        t_checks++;                                                                      \
        if (!(fabs(a_ - b_) <= tol_)) {                                                  \
            t_fails++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g, tol %.3g\n", \
                    __FILE__, __LINE__, #a, a_, #b, b_, tol_);                           \
        }                                                                                \
    } while (0)

/* Relative closeness: |a-b| <= rtol*max(|a|,|b|) + atol */
#define CHECK_CLOSE(a, b, rtol, atol)                                                    \
    do {                                                                                 \
        double a_ = (double)(a), b_ = (double)(b);                                       \
        double m_ = fabs(a_) > fabs(b_) ? fabs(a_) : fabs(b_);                           \
        t_checks++;                                                                      \
        if (!(fabs(a_ - b_) <= (rtol) * m_ + (atol))) {                                  \
            t_fails++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK_CLOSE failed: %s = %.9g, %s = %.9g\n",         \
                    __FILE__, __LINE__, #a, a_, #b, b_);                                 \
        }                                                                                \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                               \
    do {                                                                                 \
        const char *a_ = (a), *b_ = (b);                                                 \
        t_checks++;                                                                      \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                         \
            t_fails++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK_STR_EQ failed: \"%s\" != \"%s\"\n", __FILE__,   \
                    __LINE__, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                   \
        }                                                                                \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                      \
    do {                                                                                 \
        const char *h_ = (hay), *n_ = (needle);                                          \
        t_checks++;                                                                      \
        if (!h_ || !strstr(h_, n_)) {                                                    \
            t_fails++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK_CONTAINS failed: \"%s\" lacks \"%s\"\n",        \
                    __FILE__, __LINE__, h_ ? h_ : "(null)", n_);                         \
        }                                                                                \
    } while (0)

static inline void t_run(const char *name, void (*fn)(void)) {
    int c0 = t_checks, f0 = t_fails;
    fn();
    int ran = t_checks - c0, failed = t_fails - f0;
    if (ran == 0) {
        fprintf(stderr, "%s: no CHECK ran (a test must assert something)\n", name);
        failed = 1;
    }
    if (failed) t_failed++; else t_passed++;
    printf("TEST %s %s (%d checks)\n", failed ? "FAIL" : "ok", name, ran);
    fflush(stdout);
}

#define RUN(fn) t_run(#fn, fn)

static inline int test_summary(void) {
    printf("TESTS %d %d\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}

/* Path to ../shared/data (tests run from the repo root); MTREC_SHARED overrides. */
static inline const char *test_shared_dir(void) {
    const char *s = getenv("MTREC_SHARED");
    return s ? s : "../shared";
}

#endif
