/* Memory traffic: word copies between two 256 KiB buffers, then a checksum pass. */
#include <stdint.h>

#define WORDS (256 * 1024 / 8)
static uint64_t src[WORDS], dst[WORDS];

static void copy(uint64_t *restrict d, const uint64_t *restrict s, uint64_t n) {
  for (uint64_t i = 0; i < n; i += 4) {
    uint64_t x0 = s[i], x1 = s[i + 1], x2 = s[i + 2], x3 = s[i + 3];
    d[i] = x0;
    d[i + 1] = x1;
    d[i + 2] = x2;
    d[i + 3] = x3;
  }
}

int main(void) {
  for (uint64_t i = 0; i < WORDS; i++) src[i] = i * 0x9e3779b97f4a7c15ull;
  uint64_t sum = 0;
  for (int round = 0; round < 640; round++) {
    copy(dst, src, WORDS);
    src[round % WORDS] ^= dst[WORDS - 1 - round];
    sum += dst[(round * 7) % WORDS];
  }
  for (uint64_t i = 0; i < WORDS; i++) sum ^= dst[i] + i;
  return sum == 0xd5ac3d4eaaaeea40ull ? 0 : 1;
}
