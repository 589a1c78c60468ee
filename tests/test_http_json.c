/* test_http_json.c: the JSON number printer of `mtrec serve` answers (serve/http_json.c):
 * every float comes back exactly through strtof, with the fewest significant digits that
 * do (checked against "%.{p}g" for p = 1..9), on 400k random bit patterns, 200k model-like outputs and edge
 * values; NaN and infinities print as null. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/http_json.h"
#include "test.h"

static uint64_t g_s = 0x9e3779b97f4a7c15ull;
static uint32_t rnd32(void) {
    g_s ^= g_s << 13; g_s ^= g_s >> 7; g_s ^= g_s << 17;
    return (uint32_t)(g_s >> 16);
}

/* fewest digits p with strtof("%.{p}g") == v */
static int shortest_digits(float v) {
    char t[40];
    for (int p = 1; p <= 9; p++) {
        snprintf(t, sizeof t, "%.*g", p, (double)v);
        if (strtof(t, NULL) == v) return p;
    }
    return 99;
}

/* significant digits in a printed number */
static int sig_digits(const char *s) {
    int n = 0, started = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9') continue;
        if (*s != '0') started = 1;
        if (started) n++;
    }
    return n ? n : 1; /* "0" has one */
}

static int check_one(float v, int *bad_rt, int *bad_len) {
    char buf[32];
    int n = mt_json_format_float(v, buf);
    if (n != (int)strlen(buf)) return 1;
    float back = strtof(buf, NULL);
    uint32_t a, b;
    memcpy(&a, &v, 4);
    memcpy(&b, &back, 4);
    if (a != b) {
        if (*bad_rt < 5) fprintf(stderr, "round trip: %.9g -> '%s' -> %.9g\n", (double)v, buf, (double)back);
        (*bad_rt)++;
        return 1;
    }
    /* digits: an integer like 1e+06 prints as 1000000, whose zeros are not significant */
    int want = shortest_digits(v), got = sig_digits(buf);
    if (!strchr(buf, '.') && !strchr(buf, 'e')) {
        int len = (int)strlen(buf) - (buf[0] == '-');
        while (len > 1 && buf[(buf[0] == '-') + len - 1] == '0') len--, got--;
    }
    if (got != want) {
        if (*bad_len < 5) fprintf(stderr, "length: %.9g -> '%s' (%d digits, shortest %d)\n", (double)v, buf, got, want);
        (*bad_len)++;
        return 1;
    }
    return 0;
}

static void test_edges(void) {
    int rt = 0, ln = 0;
    float edge[] = {0.0f, 1.0f, -1.0f, 0.1f, 0.5f, 100.0f, 1e6f, 1.5e-5f, 9.99999e-6f, 1e-5f, 123456789.0f,
                    16777216.0f, 16777218.0f, 3.4028235e38f, 1.17549435e-38f, 1.4e-45f, -2.5e-7f,
                    0.3f, 2.0f / 3.0f, 1e16f, 1e17f, 99999.99f, 0.000123f};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) check_one(edge[i], &rt, &ln);
    CHECK(rt == 0);
    CHECK(ln == 0);
    char buf[32];
    CHECK(mt_json_format_float(NAN, buf) == 4 && !strcmp(buf, "null"));
    CHECK(!strcmp((mt_json_format_float(-INFINITY, buf), buf), "null"));
    CHECK(!strcmp((mt_json_format_float(0.1f, buf), buf), "0.1"));
    CHECK(!strcmp((mt_json_format_float(-0.0f, buf), buf), "-0"));
    CHECK(!strcmp((mt_json_format_float(1e6f, buf), buf), "1000000"));
    CHECK(!strcmp((mt_json_format_float(1.5e-7f, buf), buf), "1.5e-7"));
    CHECK(!strcmp((mt_json_format_float(0.000123f, buf), buf), "0.000123"));
}

static void test_random(void) {
    int rt = 0, ln = 0, n = 0;
    for (int i = 0; i < 400000; i++) {
        uint32_t u = rnd32();
        float v;
        memcpy(&v, &u, 4);
        if (!isfinite(v)) continue;
        check_one(v, &rt, &ln);
        n++;
    }
    /* and probabilities / logits as a model gives them */
    for (int i = 0; i < 100000; i++) {
        float v = (float)(rnd32() / 4294967296.0);
        check_one(v, &rt, &ln);
        check_one(-v * 20, &rt, &ln);
        n += 2;
    }
    printf("# %d floats checked\n", n);
    CHECK(rt == 0);
    CHECK(ln == 0);
}

int main(void) {
    RUN(test_edges);
    RUN(test_random);
    return test_summary();
}
