/* fuzz_config.c: libFuzzer target for the pipeline.config reader (parser, schema walk,
 * builders). Every input must either load (then free) or fail with a message; nothing may
 * crash or leak. Build and run (see the lines below). */
// clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc fuzz/fuzz_config.c
//       src/config/*.c src/util/*.c -lm -o /tmp/fuzz_config
// mkdir -p /tmp/corpus && cp tests/fixtures/configs/*.config tests/fixtures/configs/easyrec/*.config /tmp/corpus/
// /tmp/fuzz_config -max_total_time=60 /tmp/corpus
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    mt_pipeline p;
    mt_err e;
    e.code = MTREC_OK;
    e.msg[0] = '\0';
    if (mt_pipeline_load_text("fuzz.config", text, &p, &e) == MTREC_OK) {
        (void)mt_pipeline_shape_fingerprint(&p);
        mt_pipeline_free(&p);
    } else if (e.msg[0] == '\0') {
        abort();   /* every failure must explain itself */
    }
    free(text);
    return 0;
}
