/*
 * Conventions shared by the x86 test guests (built by build.sh; used by test/kvm and bench/kvm-*):
 * a hypercall is an `out` to HYPERCALL_PORT with the number in RAX and the arguments in RDI, RSI, RCX, RBX, R8, R9
 * (src/hal/kvm/exits.ts). DX holds the port, so RDX carries no argument.
 */
#define HYPERCALL_PORT 0x0cf0
#define HC_DONE 1        /* rdi = status (0 = success) */
#define HC_REPORT 2      /* rdi, rsi, rcx, rbx, r8, r9 = values for the test to check */
#define HC_AP_ALIVE 3    /* rdi = APIC id read with CPUID leaf 1 */
#define HC_SIPI_SENT 4
#define HC_CPL3_ROUND 5  /* rdi = loop result, rsi = CS (RPL 3 proves CPL3) */
#define COM1 0x3f8
#define TEST_PORT 0x510
#define TEST_MMIO 0x10000000
