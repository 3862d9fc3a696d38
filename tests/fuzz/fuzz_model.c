/*
 * libFuzzer target for the model loader (clf_model_load_buffer): the model file is a
 * text header people may edit, then float32 weights and a crc32 trailer. Each input is
 * loaded twice: as it is (magic, trailer and checksum checks), and with its last 24 bytes
 * replaced by the right trailer for the bytes before them, so a mutated header gets past
 * the checksum and the header parser, the settings checks and the weight-size check are
 * what is fuzzed. A model that loads must classify a fixed prompt into a task type with
 * finite probabilities summing to 1.
 * Build: CC=clang cmake -S . -B build-fuzz -DSY_FUZZ=ON
 * Run:   build-fuzz/tests/fuzz_model tests/fuzz/corpus/model -dict=tests/fuzz/fuzz_model.dict
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/features.h"
#include "classifier/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TRAILER 24

static void try_load(const unsigned char *buf, size_t len)
{
    struct clf_model *m = NULL;
    char err[512];
    err[0] = 0;
    if (clf_model_load_buffer("fuzz", buf, len, &m, err, sizeof(err)) != 0) {
        if (m || !err[0]) /* a failure leaves no model and says why */
            abort();
        return;
    }
    if (!m)
        abort();
    struct clf_extractor *ex = clf_extractor_new(clf_model_features(m));
    if (ex) {
        static const char prompt[] = "why does `cargo build` fail with E0382?\n```\nlet a = b;\n```";
        double p[WIRE_NTASKS];
        wire_task t = clf_model_predict(m, ex, prompt, sizeof(prompt) - 1, p);
        double sum = 0;
        for (int c = 0; c < WIRE_NTASKS; c++) {
            if (!(p[c] >= 0 && p[c] <= 1)) /* NaN fails too */
                abort();
            sum += p[c];
        }
        if ((int)t < 0 || (int)t >= WIRE_NTASKS || fabs(sum - 1) > 1e-6)
            abort();
        clf_extractor_free(ex);
    }
    clf_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_load(data, size);
    if (size < TRAILER)
        return 0;
    unsigned char *buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    char tr[TRAILER + 1];
    snprintf(tr, sizeof(tr), "checksum crc32 %08lx\n", clf_crc32(buf, size - TRAILER));
    memcpy(buf + size - TRAILER, tr, TRAILER);
    try_load(buf, size);
    free(buf);
    return 0;
}
