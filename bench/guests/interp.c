/* A small bytecode interpreter (switch dispatch, a stack, loads/stores): what scripting-language cores do. */
#include <stdint.h>

enum { PUSH, LOAD, STORE, ADD, SUB, MUL, JNZ, DUP, XOR, HALT };

static const uint64_t program[] = {
    /* acc = 0; i = 400000; while (i) { acc = acc * 3 ^ i; i = i - 1; } */
    PUSH, 0, STORE, 0,        /* acc = 0 */
    PUSH, 400000, STORE, 1,   /* i = 400000 */
    /* loop: 8 */
    LOAD, 0, PUSH, 3, MUL, LOAD, 1, XOR, STORE, 0,
    LOAD, 1, PUSH, 1, SUB, DUP, STORE, 1,
    JNZ, 8,
    HALT,
};

static uint64_t run(void) {
  uint64_t stack[16], vars[4] = {0};
  int sp = 0;
  uint64_t pc = 0;
  for (;;) {
    switch (program[pc]) {
      case PUSH: stack[sp++] = program[pc + 1]; pc += 2; break;
      case LOAD: stack[sp++] = vars[program[pc + 1]]; pc += 2; break;
      case STORE: vars[program[pc + 1]] = stack[--sp]; pc += 2; break;
      case ADD: sp--; stack[sp - 1] += stack[sp]; pc++; break;
      case SUB: sp--; stack[sp - 1] -= stack[sp]; pc++; break;
      case MUL: sp--; stack[sp - 1] *= stack[sp]; pc++; break;
      case XOR: sp--; stack[sp - 1] ^= stack[sp]; pc++; break;
      case DUP: stack[sp] = stack[sp - 1]; sp++; pc++; break;
      case JNZ: pc = stack[--sp] ? program[pc + 1] : pc + 2; break;
      case HALT: return vars[0];
      default: return 0;
    }
  }
}

int main(void) { return run() == 0x121cd5b7f8443180ull ? 0 : 1; }
