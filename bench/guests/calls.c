/* Function calls and returns: naive recursive Fibonacci plus a mutual recursion. */
#include <stdint.h>

__attribute__((noinline)) static uint64_t fib(uint64_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
__attribute__((noinline)) static int is_odd(uint64_t n);
__attribute__((noinline)) static int is_even(uint64_t n) { return n == 0 ? 1 : is_odd(n - 1); }
__attribute__((noinline)) static int is_odd(uint64_t n) { return n == 0 ? 0 : is_even(n - 1); }

int main(void) {
  uint64_t f = fib(32);
  int parity = 0;
  for (uint64_t i = 0; i < 200; i++) parity += is_even(1000 + i);
  return (f == 2178309 && parity == 100) ? 0 : 1;
}
