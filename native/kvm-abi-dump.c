/*
 * The KVM ABI as <linux/kvm.h> defines it for the architecture this file is compiled for: struct sizes, field
 * offsets, ioctl numbers, exit reasons, capability numbers and (arm64) ONE_REG register ids.
 * test/kvm/abi-layout.test.ts compiles it at test time and compares every item with what the backend declares
 * (src/hal/kvm/abi.ts, the generic part, plus each arch's part, e.g. src/hal/kvm/x86_64/abi.ts and
 * src/hal/kvm/aarch64/abi.ts), so a wrong offset there fails a test instead of corrupting guest state. The generic
 * part is emitted for every architecture; each arch's part under its #if, as the backend splits them.
 *
 * Nothing is run: every item is a compile-time constant, emitted as an absolute symbol named "<kind> <name>"
 * whose value is the number, and the test reads them back with nm. So the arm64 ABI is checked on an x86 host by
 * compiling with aarch64-linux-gnu-gcc (its own <asm/kvm.h>), with no arm64 machine or emulator. Kinds:
 *   size   <struct>          sizeof in bytes
 *   offset <struct>.<field>  offsetof in bytes
 *   const  <NAME>            a number
 *   regid  <name>            a 64-bit ONE_REG register id
 */
#include <stddef.h>
#include <linux/kvm.h>

/* <asm/kvm.h> sizes the arm64 vGIC frames with the kernel's SZ_64K, which the uapi headers do not define. */
#ifndef SZ_64K
#define SZ_64K 0x10000
#endif

/* The value goes to the assembler in 16-bit pieces: "%c" prints an operand as a bare number only when it is a valid
   constant address, which on x86_64 excludes 64-bit constants and even u32s with bit 31 set (ioctl numbers). */
#define PART(value, shift) ((unsigned long long)(value) >> (shift) & 0xffff)
#define ITEM(kind, name, value)                                                                     \
  __asm__ volatile(".globl \"" kind " " name "\"\n\t.set \"" kind " " name                        \
                   "\", (%c0 << 48) | (%c1 << 32) | (%c2 << 16) | %c3"                               \
                   :                                                                               \
                   : "i"(PART(value, 48)), "i"(PART(value, 32)), "i"(PART(value, 16)), "i"(PART(value, 0)))
#define SIZE(s) ITEM("size", #s, sizeof(struct s))
#define OFF(s, f) ITEM("offset", #s "." #f, offsetof(struct s, f))
#define CONST(n) ITEM("const", #n, n)
#define REGID(name, id) ITEM("regid", name, id)

/* src/hal/kvm/abi.ts */
void kvm_abi_generic(void) {
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

  SIZE(kvm_ioeventfd);
  OFF(kvm_ioeventfd, datamatch); OFF(kvm_ioeventfd, addr); OFF(kvm_ioeventfd, len); OFF(kvm_ioeventfd, fd);
  OFF(kvm_ioeventfd, flags); OFF(kvm_ioeventfd, pad);

  SIZE(kvm_irqfd);
  OFF(kvm_irqfd, fd); OFF(kvm_irqfd, gsi); OFF(kvm_irqfd, flags); OFF(kvm_irqfd, resamplefd); OFF(kvm_irqfd, pad);

  CONST(KVMIO);
  CONST(KVM_API_VERSION);
  CONST(KVM_GET_API_VERSION);
  CONST(KVM_CREATE_VM);
  CONST(KVM_CHECK_EXTENSION);
  CONST(KVM_GET_VCPU_MMAP_SIZE);
  CONST(KVM_CREATE_VCPU);
  CONST(KVM_SET_USER_MEMORY_REGION);
  CONST(KVM_IRQ_LINE);
  CONST(KVM_IRQFD);
  CONST(KVM_IOEVENTFD);
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
  CONST(KVM_CAP_IRQFD);
  CONST(KVM_CAP_IOEVENTFD);
  CONST(KVM_CAP_MAX_VCPUS);
  CONST(KVM_CAP_IRQFD_RESAMPLE);
  CONST(KVM_CAP_IMMEDIATE_EXIT);

  CONST(KVM_MP_STATE_RUNNABLE);
  CONST(KVM_MP_STATE_UNINITIALIZED);
  CONST(KVM_MP_STATE_INIT_RECEIVED);
  CONST(KVM_MP_STATE_HALTED);
  CONST(KVM_MP_STATE_SIPI_RECEIVED);
  CONST(KVM_MEM_READONLY);
  CONST(KVM_IOEVENTFD_FLAG_DATAMATCH);
  CONST(KVM_IOEVENTFD_FLAG_PIO);
  CONST(KVM_IOEVENTFD_FLAG_DEASSIGN);
  CONST(KVM_IRQFD_FLAG_DEASSIGN);
  CONST(KVM_IRQFD_FLAG_RESAMPLE);
}

#if defined(__x86_64__)
/* src/hal/kvm/x86_64/abi.ts */
void kvm_abi_arch(void) {
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

  SIZE(kvm_clock_data);
  OFF(kvm_clock_data, clock); OFF(kvm_clock_data, flags); OFF(kvm_clock_data, realtime);
  OFF(kvm_clock_data, host_tsc);

  SIZE(kvm_xsave);
  OFF(kvm_xsave, region);
  SIZE(kvm_xcrs);
  OFF(kvm_xcrs, nr_xcrs); OFF(kvm_xcrs, flags); OFF(kvm_xcrs, xcrs);
  SIZE(kvm_vcpu_events);
  OFF(kvm_vcpu_events, flags);
  SIZE(kvm_irqchip);
  OFF(kvm_irqchip, chip_id); OFF(kvm_irqchip, chip);
  SIZE(kvm_pit_state2);
  OFF(kvm_pit_state2, channels); OFF(kvm_pit_state2, flags);

  SIZE(kvm_interrupt);
  OFF(kvm_interrupt, irq);

  SIZE(kvm_guest_debug);
  OFF(kvm_guest_debug, control); OFF(kvm_guest_debug, arch.debugreg);
  OFF(kvm_run, debug.arch.exception); OFF(kvm_run, debug.arch.pc); OFF(kvm_run, debug.arch.dr6);
  OFF(kvm_run, debug.arch.dr7);

  CONST(KVM_GET_SUPPORTED_CPUID);
  CONST(KVM_SET_TSS_ADDR);
  CONST(KVM_SET_IDENTITY_MAP_ADDR);
  CONST(KVM_CREATE_IRQCHIP);
  CONST(KVM_CREATE_PIT2);
  CONST(KVM_SET_CLOCK);
  CONST(KVM_GET_CLOCK);
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
  CONST(KVM_SET_GUEST_DEBUG);
  CONST(KVM_GET_IRQCHIP);
  CONST(KVM_SET_IRQCHIP);
  CONST(KVM_GET_PIT2);
  CONST(KVM_SET_PIT2);
  CONST(KVM_GET_VCPU_EVENTS);
  CONST(KVM_SET_VCPU_EVENTS);
  CONST(KVM_GET_XSAVE);
  CONST(KVM_SET_XSAVE);
  CONST(KVM_GET_XCRS);
  CONST(KVM_SET_XCRS);

  CONST(KVM_CAP_SET_TSS_ADDR);
  CONST(KVM_CAP_EXT_CPUID);
  CONST(KVM_CAP_PIT2);
  CONST(KVM_CAP_SET_IDENTITY_MAP_ADDR);
  CONST(KVM_CAP_TSC_DEADLINE_TIMER);
  CONST(KVM_PIT_SPEAKER_DUMMY);
  CONST(KVM_EXIT_IO_IN);
  CONST(KVM_EXIT_IO_OUT);
  CONST(KVM_CAP_SET_GUEST_DEBUG);
  CONST(KVM_GUESTDBG_ENABLE);
  CONST(KVM_GUESTDBG_SINGLESTEP);
  CONST(KVM_GUESTDBG_USE_SW_BP);
  CONST(KVM_GUESTDBG_USE_HW_BP);
}
#elif defined(__aarch64__)
/* src/hal/kvm/aarch64/abi.ts */
#define CORE(name, field) REGID(name, KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(field))
void kvm_abi_arch(void) {
  SIZE(kvm_vcpu_init);
  OFF(kvm_vcpu_init, target); OFF(kvm_vcpu_init, features);
  SIZE(kvm_one_reg);
  OFF(kvm_one_reg, id); OFF(kvm_one_reg, addr);
  SIZE(kvm_create_device);
  OFF(kvm_create_device, type); OFF(kvm_create_device, fd); OFF(kvm_create_device, flags);
  SIZE(kvm_device_attr);
  OFF(kvm_device_attr, flags); OFF(kvm_device_attr, group); OFF(kvm_device_attr, attr); OFF(kvm_device_attr, addr);
  SIZE(kvm_regs);
  OFF(kvm_regs, regs.regs); OFF(kvm_regs, regs.sp); OFF(kvm_regs, regs.pc); OFF(kvm_regs, regs.pstate);
  OFF(kvm_regs, sp_el1); OFF(kvm_regs, elr_el1); OFF(kvm_regs, spsr); OFF(kvm_regs, fp_regs);
  SIZE(kvm_reg_list);
  OFF(kvm_reg_list, n);

  CONST(KVM_ARM_PREFERRED_TARGET);
  CONST(KVM_ARM_VCPU_INIT);
  CONST(KVM_GET_ONE_REG);
  CONST(KVM_SET_ONE_REG);
  CONST(KVM_CREATE_DEVICE);
  CONST(KVM_SET_DEVICE_ATTR);
  CONST(KVM_HAS_DEVICE_ATTR);
  CONST(KVM_GET_DEVICE_ATTR);
  CONST(KVM_GET_REG_LIST);

  CONST(KVM_ARM_VCPU_POWER_OFF);
  CONST(KVM_ARM_VCPU_EL1_32BIT);
  CONST(KVM_ARM_VCPU_PSCI_0_2);
  CONST(KVM_CAP_ONE_REG);
  CONST(KVM_CAP_DEVICE_CTRL);
  CONST(KVM_CAP_ARM_PSCI_0_2);
  CONST(KVM_CAP_ARM_VM_IPA_SIZE);
  CONST(KVM_DEV_TYPE_ARM_VGIC_V3);
  CONST(KVM_DEV_ARM_VGIC_GRP_ADDR);
  CONST(KVM_DEV_ARM_VGIC_GRP_NR_IRQS);
  CONST(KVM_DEV_ARM_VGIC_GRP_CTRL);
  CONST(KVM_DEV_ARM_VGIC_CTRL_INIT);
  CONST(KVM_VGIC_V3_ADDR_TYPE_DIST);
  CONST(KVM_VGIC_V3_ADDR_TYPE_REDIST);
  CONST(KVM_VGIC_V3_DIST_SIZE);
  CONST(KVM_VGIC_V3_REDIST_SIZE);
  CONST(KVM_ARM_IRQ_TYPE_SHIFT);
  CONST(KVM_ARM_IRQ_TYPE_MASK);
  CONST(KVM_ARM_IRQ_VCPU_SHIFT);
  CONST(KVM_ARM_IRQ_VCPU_MASK);
  CONST(KVM_ARM_IRQ_NUM_SHIFT);
  CONST(KVM_ARM_IRQ_NUM_MASK);
  CONST(KVM_ARM_IRQ_TYPE_CPU);
  CONST(KVM_ARM_IRQ_TYPE_SPI);
  CONST(KVM_ARM_IRQ_TYPE_PPI);
  CONST(KVM_DEV_ARM_VGIC_GRP_DIST_REGS);
  CONST(KVM_DEV_ARM_VGIC_GRP_REDIST_REGS);
  CONST(KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS);
  CONST(KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO);
  CONST(KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT);
  CONST(KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT);
  CONST(VGIC_LEVEL_INFO_LINE_LEVEL);
  CONST(KVM_MP_STATE_STOPPED);
  CONST(KVM_MP_STATE_SUSPENDED);
  CONST(KVM_REG_SIZE_SHIFT);

  CORE("x0", regs.regs[0]); CORE("x1", regs.regs[1]); CORE("x2", regs.regs[2]); CORE("x3", regs.regs[3]);
  CORE("x4", regs.regs[4]); CORE("x5", regs.regs[5]); CORE("x6", regs.regs[6]); CORE("x7", regs.regs[7]);
  CORE("x8", regs.regs[8]); CORE("x9", regs.regs[9]); CORE("x10", regs.regs[10]); CORE("x11", regs.regs[11]);
  CORE("x12", regs.regs[12]); CORE("x13", regs.regs[13]); CORE("x14", regs.regs[14]); CORE("x15", regs.regs[15]);
  CORE("x16", regs.regs[16]); CORE("x17", regs.regs[17]); CORE("x18", regs.regs[18]); CORE("x19", regs.regs[19]);
  CORE("x20", regs.regs[20]); CORE("x21", regs.regs[21]); CORE("x22", regs.regs[22]); CORE("x23", regs.regs[23]);
  CORE("x24", regs.regs[24]); CORE("x25", regs.regs[25]); CORE("x26", regs.regs[26]); CORE("x27", regs.regs[27]);
  CORE("x28", regs.regs[28]); CORE("x29", regs.regs[29]); CORE("x30", regs.regs[30]);
  CORE("sp", regs.sp); CORE("pc", regs.pc); CORE("pstate", regs.pstate);
  CORE("sp_el1", sp_el1); CORE("elr_el1", elr_el1);
  REGID("MPIDR_EL1", ARM64_SYS_REG(3, 0, 0, 0, 5));
  REGID("KVM_REG_ARM_TIMER_CTL", KVM_REG_ARM_TIMER_CTL);
  REGID("KVM_REG_ARM_TIMER_CNT", KVM_REG_ARM_TIMER_CNT);
  REGID("KVM_REG_ARM_TIMER_CVAL", KVM_REG_ARM_TIMER_CVAL);
}
#else
/* No arch part for this host. Once the backend has an arch module for it, the test fails until one is added
   here: that module's items are declared but not printed. */
void kvm_abi_arch(void) {}
#endif
