// farmhash_vectors.cc: prints util::Fingerprint64 (Debian libfarmhash, the reference C++
// FarmHash) for strings of every length class, as C initialisers for tests/test_hash.c.
// Build and run (from the repo root):
//   apt-get install libfarmhash-dev
//   g++ -O1 -o /tmp/farmhash_vectors tools/farmhash_vectors.cc -lfarmhash && /tmp/farmhash_vectors
// Strings: fixed ASCII words, plus for every length 0..300 a deterministic pattern
// pattern_byte(len, i) (reproduced by the C test, so only the lengths and hashes are printed),
// plus a few pseudo-random byte strings from a fixed LCG (also reproduced by the test).
#include <farmhash.h>

#include <cinttypes>
#include <cstdio>
#include <string>

static unsigned char pattern_byte(size_t len, size_t i) {
    return (unsigned char)((i * 131u + len * 7u + 13u) & 0xffu);
}

static uint64_t lcg_state;
static unsigned char lcg_byte() {
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned char)(lcg_state >> 56);
}

int main() {
    const char *words[] = {"", "a", "0", "1", "-1", "23", "Hello", "TensorFlow", "2.x",
                           "430548_1007", "NULL", "100002", "3.14159", "abcdefghijklmnop",
                           "abcdefghijklmnopq", "The quick brown fox jumps over the lazy dog",
                           "The quick brown fox jumps over the lazy dog, twice over: the quick "
                           "brown fox jumps over the lazy dog."};
    std::printf("/* word vectors */\n");
    for (const char *w : words) {
        std::string s(w);
        std::printf("    {\"%s\", 0x%016" PRIx64 "ULL},\n", w,
                    (uint64_t)util::Fingerprint64(s.data(), s.size()));
    }
    std::printf("/* pattern vectors: length, hash */\n");
    for (size_t len = 0; len <= 300; len++) {
        std::string s(len, '\0');
        for (size_t i = 0; i < len; i++) s[i] = (char)pattern_byte(len, i);
        std::printf("    0x%016" PRIx64 "ULL,%s", (uint64_t)util::Fingerprint64(s.data(), s.size()),
                    len % 3 == 2 ? "\n" : "");
    }
    std::printf("\n/* random vectors (LCG seeded with the length): length, hash */\n");
    const size_t rlens[] = {1, 3, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200, 255, 256, 257, 300};
    for (size_t len : rlens) {
        lcg_state = len;
        std::string s(len, '\0');
        for (size_t i = 0; i < len; i++) s[i] = (char)lcg_byte();
        std::printf("    {%zu, 0x%016" PRIx64 "ULL},\n", len,
                    (uint64_t)util::Fingerprint64(s.data(), s.size()));
    }
    return 0;
}
