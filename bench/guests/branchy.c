/* Data-dependent branches: Collatz sequence lengths and an insertion sort of pseudo-random data. */
#include <stdint.h>

static uint32_t data[3000];

int main(void) {
  uint64_t total = 0;
  for (uint64_t n = 1; n < 60000; n++) {
    uint64_t x = n;
    while (x != 1) {
      x = (x & 1) ? 3 * x + 1 : x >> 1;
      total++;
    }
  }
  uint32_t seed = 12345;
  for (int i = 0; i < 3000; i++) {
    seed = seed * 1103515245u + 12345u;
    data[i] = seed >> 8;
  }
  for (int i = 1; i < 3000; i++) {
    uint32_t v = data[i];
    int j = i - 1;
    while (j >= 0 && data[j] > v) {
      data[j + 1] = data[j];
      j--;
    }
    data[j + 1] = v;
  }
  for (int i = 1; i < 3000; i++)
    if (data[i - 1] > data[i]) return 2;
  return total == 6134916ull ? 0 : 1;
}
