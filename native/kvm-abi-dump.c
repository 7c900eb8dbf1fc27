/*
 * Prints the KVM ABI as <linux/kvm.h> defines it on this host: struct sizes, field offsets, ioctl numbers,
 * exit reasons and capability numbers. test/kvm/abi-layout.test.ts compiles this at test time and compares
 * every line with what the backend declares (src/hal/kvm/abi.ts, the generic part, plus the host arch's part,
 * e.g. src/hal/kvm/x86_64/abi.ts), so a wrong offset there fails a test instead of corrupting guest state.
 * The generic part is printed on every host; each arch's part under its #if, as the backend splits them.
 *
 * Output, one item per line:
 *   size   <struct>          <bytes>
 *   offset <struct>.<field>  <bytes>
 *   const  <NAME>            <decimal value>
 */
#include <stddef.h>
#include <stdio.h>
#include <linux/kvm.h>

#define SIZE(s) printf("size %s %zu\n", #s, sizeof(struct s))
#define OFF(s, f) printf("offset %s.%s %zu\n", #s, #f, offsetof(struct s, f))
#define CONST(n) printf("const %s %llu\n", #n, (unsigned long long)(n))

/* src/hal/kvm/abi.ts */
static void generic(void) {
  SIZE(kvm_run);
  OFF(kvm_run, request_interrupt_window);
  OFF(kvm_run, immediate_exit);
  OFF(kvm_run, exit_reason);
  OFF(kvm_run, ready_for_interrupt_injection);
  OFF(kvm_run, if_flag);
  OFF(kvm_run, flags);
  OFF(kvm_run, cr8);
  OFF(kvm_run, apic_base);
  OFF(kvm_run, hw.hardware_exit_reason);
  OFF(kvm_run, fail_entry.hardware_entry_failure_reason);
  OFF(kvm_run, fail_entry.cpu);
  OFF(kvm_run, ex.exception);
  OFF(kvm_run, ex.error_code);
  OFF(kvm_run, io.direction);
  OFF(kvm_run, io.size);
  OFF(kvm_run, io.port);
  OFF(kvm_run, io.count);
  OFF(kvm_run, io.data_offset);
  OFF(kvm_run, mmio.phys_addr);
  OFF(kvm_run, mmio.data);
  OFF(kvm_run, mmio.len);
  OFF(kvm_run, mmio.is_write);
  OFF(kvm_run, internal.suberror);
  OFF(kvm_run, internal.ndata);
  OFF(kvm_run, internal.data);
  OFF(kvm_run, system_event.type);
  OFF(kvm_run, system_event.ndata);
  OFF(kvm_run, system_event.data);

  SIZE(kvm_userspace_memory_region);
  OFF(kvm_userspace_memory_region, slot); OFF(kvm_userspace_memory_region, flags);
  OFF(kvm_userspace_memory_region, guest_phys_addr); OFF(kvm_userspace_memory_region, memory_size);
  OFF(kvm_userspace_memory_region, userspace_addr);

  SIZE(kvm_irq_level);
  OFF(kvm_irq_level, irq); OFF(kvm_irq_level, level);

  SIZE(kvm_mp_state);
  OFF(kvm_mp_state, mp_state);

  SIZE(kvm_signal_mask);
  OFF(kvm_signal_mask, len); OFF(kvm_signal_mask, sigset);

  CONST(KVMIO);
  CONST(KVM_API_VERSION);
  CONST(KVM_GET_API_VERSION);
  CONST(KVM_CREATE_VM);
  CONST(KVM_CHECK_EXTENSION);
  CONST(KVM_GET_VCPU_MMAP_SIZE);
  CONST(KVM_CREATE_VCPU);
  CONST(KVM_SET_USER_MEMORY_REGION);
  CONST(KVM_IRQ_LINE);
  CONST(KVM_RUN);
  CONST(KVM_GET_MP_STATE);
  CONST(KVM_SET_MP_STATE);
  CONST(KVM_SET_SIGNAL_MASK);

  CONST(KVM_EXIT_UNKNOWN);
  CONST(KVM_EXIT_EXCEPTION);
  CONST(KVM_EXIT_IO);
  CONST(KVM_EXIT_HYPERCALL);
  CONST(KVM_EXIT_DEBUG);
  CONST(KVM_EXIT_HLT);
  CONST(KVM_EXIT_MMIO);
  CONST(KVM_EXIT_IRQ_WINDOW_OPEN);
  CONST(KVM_EXIT_SHUTDOWN);
  CONST(KVM_EXIT_FAIL_ENTRY);
  CONST(KVM_EXIT_INTR);
  CONST(KVM_EXIT_NMI);
  CONST(KVM_EXIT_INTERNAL_ERROR);
  CONST(KVM_EXIT_SYSTEM_EVENT);
  CONST(KVM_SYSTEM_EVENT_SHUTDOWN);
  CONST(KVM_SYSTEM_EVENT_RESET);
  CONST(KVM_SYSTEM_EVENT_CRASH);
  CONST(KVM_INTERNAL_ERROR_EMULATION);
  CONST(KVM_INTERNAL_ERROR_SIMUL_EX);
  CONST(KVM_INTERNAL_ERROR_DELIVERY_EV);
  CONST(KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON);

  CONST(KVM_CAP_IRQCHIP);
  CONST(KVM_CAP_HLT);
  CONST(KVM_CAP_USER_MEMORY);
  CONST(KVM_CAP_NR_VCPUS);
  CONST(KVM_CAP_NR_MEMSLOTS);
  CONST(KVM_CAP_MP_STATE);
  CONST(KVM_CAP_MAX_VCPUS);
  CONST(KVM_CAP_IMMEDIATE_EXIT);

  CONST(KVM_MP_STATE_RUNNABLE);
  CONST(KVM_MP_STATE_UNINITIALIZED);
  CONST(KVM_MP_STATE_INIT_RECEIVED);
  CONST(KVM_MP_STATE_HALTED);
  CONST(KVM_MP_STATE_SIPI_RECEIVED);
  CONST(KVM_MEM_READONLY);
}

#if defined(__x86_64__)
/* src/hal/kvm/x86_64/abi.ts */
static void arch(void) {
  SIZE(kvm_regs);
  OFF(kvm_regs, rax); OFF(kvm_regs, rbx); OFF(kvm_regs, rcx); OFF(kvm_regs, rdx);
  OFF(kvm_regs, rsi); OFF(kvm_regs, rdi); OFF(kvm_regs, rsp); OFF(kvm_regs, rbp);
  OFF(kvm_regs, r8); OFF(kvm_regs, r9); OFF(kvm_regs, r10); OFF(kvm_regs, r11);
  OFF(kvm_regs, r12); OFF(kvm_regs, r13); OFF(kvm_regs, r14); OFF(kvm_regs, r15);
  OFF(kvm_regs, rip); OFF(kvm_regs, rflags);

  SIZE(kvm_segment);
  OFF(kvm_segment, base); OFF(kvm_segment, limit); OFF(kvm_segment, selector); OFF(kvm_segment, type);
  OFF(kvm_segment, present); OFF(kvm_segment, dpl); OFF(kvm_segment, db); OFF(kvm_segment, s);
  OFF(kvm_segment, l); OFF(kvm_segment, g); OFF(kvm_segment, avl); OFF(kvm_segment, unusable);

  SIZE(kvm_dtable);
  OFF(kvm_dtable, base); OFF(kvm_dtable, limit);

  SIZE(kvm_sregs);
  OFF(kvm_sregs, cs); OFF(kvm_sregs, ds); OFF(kvm_sregs, es); OFF(kvm_sregs, fs); OFF(kvm_sregs, gs);
  OFF(kvm_sregs, ss); OFF(kvm_sregs, tr); OFF(kvm_sregs, ldt); OFF(kvm_sregs, gdt); OFF(kvm_sregs, idt);
  OFF(kvm_sregs, cr0); OFF(kvm_sregs, cr2); OFF(kvm_sregs, cr3); OFF(kvm_sregs, cr4); OFF(kvm_sregs, cr8);
  OFF(kvm_sregs, efer); OFF(kvm_sregs, apic_base); OFF(kvm_sregs, interrupt_bitmap);

  SIZE(kvm_cpuid2);
  OFF(kvm_cpuid2, nent); OFF(kvm_cpuid2, entries);
  SIZE(kvm_cpuid_entry2);
  OFF(kvm_cpuid_entry2, function); OFF(kvm_cpuid_entry2, index); OFF(kvm_cpuid_entry2, flags);
  OFF(kvm_cpuid_entry2, eax); OFF(kvm_cpuid_entry2, ebx); OFF(kvm_cpuid_entry2, ecx); OFF(kvm_cpuid_entry2, edx);

  SIZE(kvm_msrs);
  OFF(kvm_msrs, nmsrs); OFF(kvm_msrs, entries);
  SIZE(kvm_msr_entry);
  OFF(kvm_msr_entry, index); OFF(kvm_msr_entry, data);

  SIZE(kvm_fpu);
  OFF(kvm_fpu, fpr); OFF(kvm_fpu, fcw); OFF(kvm_fpu, fsw); OFF(kvm_fpu, ftwx); OFF(kvm_fpu, last_opcode);
  OFF(kvm_fpu, last_ip); OFF(kvm_fpu, last_dp); OFF(kvm_fpu, xmm); OFF(kvm_fpu, mxcsr);

  SIZE(kvm_lapic_state);
  OFF(kvm_lapic_state, regs);

  SIZE(kvm_pit_config);
  OFF(kvm_pit_config, flags);

  SIZE(kvm_interrupt);
  OFF(kvm_interrupt, irq);

  CONST(KVM_GET_SUPPORTED_CPUID);
  CONST(KVM_SET_TSS_ADDR);
  CONST(KVM_SET_IDENTITY_MAP_ADDR);
  CONST(KVM_CREATE_IRQCHIP);
  CONST(KVM_CREATE_PIT2);
  CONST(KVM_GET_REGS);
  CONST(KVM_SET_REGS);
  CONST(KVM_GET_SREGS);
  CONST(KVM_SET_SREGS);
  CONST(KVM_INTERRUPT);
  CONST(KVM_GET_MSRS);
  CONST(KVM_SET_MSRS);
  CONST(KVM_GET_FPU);
  CONST(KVM_SET_FPU);
  CONST(KVM_GET_LAPIC);
  CONST(KVM_SET_LAPIC);
  CONST(KVM_SET_CPUID2);

  CONST(KVM_CAP_SET_TSS_ADDR);
  CONST(KVM_CAP_EXT_CPUID);
  CONST(KVM_CAP_PIT2);
  CONST(KVM_CAP_SET_IDENTITY_MAP_ADDR);
  CONST(KVM_CAP_TSC_DEADLINE_TIMER);
  CONST(KVM_PIT_SPEAKER_DUMMY);
  CONST(KVM_EXIT_IO_IN);
  CONST(KVM_EXIT_IO_OUT);
}
#else
/* No arch part for this host. Once the backend has an arch module for it, the test fails until one is added
   here: that module's items are declared but not printed. */
static void arch(void) {}
#endif

int main(void) {
  generic();
  arch();
  return 0;
}
