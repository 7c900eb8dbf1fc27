/* A tight integer loop: add, xor, shift, compare-and-branch. The classic "how fast is the core" number. */
#include <stdint.h>

int main(void) {
  uint64_t a = 1, b = 0;
  for (uint64_t i = 0; i < 40000000; i++) {
    a += i ^ (a >> 3);
    b ^= a;
  }
  /* Checked against a host run of the same loop. */
  return (a == 0x1a594b1a8b15c02bull && b == 0xe8d1017b385f839eull) ? 0 : 1;
}
