    .file "crt0.S"
/*
 * Start-up for the benchmark programs: hart 0 runs main() in M-mode at 0x8000_0000, other harts park.
 * The verdict goes out through HTIF (tohost = 1 pass, (code << 1) | 1 fail: QEMU -M spike and our virt board)
 * and, for machines without HTIF, the sifive,test finisher at 0x10_0000 (QEMU -M virt).
 * minstret/mcycle before and after main() are stored in `bench_counters` for whoever wants to read them.
 */
    .section .text.init, "ax"
    .globl _start
_start:
    csrr    t0, mhartid
    bnez    t0, park
    la      sp, stack_top
    la      t0, trap
    csrw    mtvec, t0
    la      t0, bench_counters
    csrr    t1, minstret
    sd      t1, 0(t0)
    call    main
    la      t0, bench_counters
    csrr    t1, minstret
    sd      t1, 8(t0)
    mv      s0, a0
    /* HTIF verdict */
    slli    t1, s0, 1
    ori     t1, t1, 1
    la      t0, tohost
    sd      t1, 0(t0)
    /* Finisher fallback: 0x5555 pass, (code << 16) | 0x3333 fail */
    li      t0, 0x100000
    li      t1, 0x5555
    beqz    s0, 1f
    slli    t1, s0, 16
    li      t2, 0x3333
    or      t1, t1, t2
1:  sw      t1, 0(t0)
park:
    wfi
    j       park

    /* Any trap is a bug in the benchmark: report code 127. */
trap:
    li      t1, (127 << 1) | 1
    la      t0, tohost
    sd      t1, 0(t0)
    j       park

    .section .tohost, "aw", @progbits
    .align  6
    .globl  tohost
    .type   tohost, @object
    .size   tohost, 8
tohost:   .dword 0
    .align  6
    .globl  fromhost
    .type   fromhost, @object
    .size   fromhost, 8
fromhost: .dword 0

    .bss
    .align  3
    .globl  bench_counters
bench_counters: .dword 0, 0
    .align  4
    .space  65536
stack_top:
