/*
 * Reference for bench/kvm-cpl3.ts: runs cpl3_loop (test/guests/x86/cpl3-loop.S, the very code the CPL3 guest runs)
 * on the host. Prints `ns <ns per call>` and the result. Usage: cpl3-host <iterations> <calls>
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

uint64_t cpl3_loop(uint64_t n);

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <iterations> <calls>\n", argv[0]);
    return 2;
  }
  uint64_t n = strtoull(argv[1], NULL, 0);
  long calls = atol(argv[2]);
  struct timespec a, b;
  uint64_t result = 0;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < calls; i++) result ^= cpl3_loop(n);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
  printf("ns %.0f\n", ns / (double)calls);
  printf("result 0x%llx\n", (unsigned long long)cpl3_loop(n));
  (void)result;
  return 0;
}
