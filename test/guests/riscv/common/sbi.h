/* SBI 2.0 calls from a VS-mode guest: a7 = extension, a6 = function, a0..a5 arguments; a0 = error, a1 = value. */
#ifndef GUEST_SBI_H
#define GUEST_SBI_H

#define SBI_EXT_LEGACY_CONSOLE_PUTCHAR 0x01UL
#define SBI_EXT_BASE 0x10UL
#define SBI_EXT_TIME 0x54494d45UL
#define SBI_EXT_HSM 0x48534dUL
#define SBI_EXT_SRST 0x53525354UL
#define SBI_EXT_DBCN 0x4442434eUL
#define SBI_EXT_AXVISOR_HYPERCALL 0x485643UL /* "HVC" */

#define SBI_TIME_SET_TIMER 0
#define SBI_HSM_HART_START 0
#define SBI_HSM_HART_STOP 1
#define SBI_HSM_HART_GET_STATUS 2
#define SBI_SRST_SYSTEM_RESET 0

#define SBI_SRST_TYPE_SHUTDOWN 0
#define SBI_SRST_TYPE_COLD_REBOOT 1
#define SBI_SRST_REASON_NONE 0
#define SBI_SRST_REASON_SYSTEM_FAILURE 1

#define SBI_HSM_STATE_STARTED 0
#define SBI_HSM_STATE_STOPPED 1
#define SBI_HSM_STATE_START_PENDING 2
#define SBI_HSM_STATE_STOP_PENDING 3

#define SBI_SUCCESS 0
#define SBI_ERR_FAILED (-1)
#define SBI_ERR_NOT_SUPPORTED (-2)
#define SBI_ERR_INVALID_PARAM (-3)
#define SBI_ERR_ALREADY_AVAILABLE (-6)

struct sbiret {
  long error;
  long value;
};

static inline struct sbiret sbi_call(unsigned long eid, unsigned long fid, unsigned long arg0, unsigned long arg1,
                                     unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5) {
  register unsigned long a0 asm("a0") = arg0;
  register unsigned long a1 asm("a1") = arg1;
  register unsigned long a2 asm("a2") = arg2;
  register unsigned long a3 asm("a3") = arg3;
  register unsigned long a4 asm("a4") = arg4;
  register unsigned long a5 asm("a5") = arg5;
  register unsigned long a6 asm("a6") = fid;
  register unsigned long a7 asm("a7") = eid;
  asm volatile("ecall" : "+r"(a0), "+r"(a1) : "r"(a2), "r"(a3), "r"(a4), "r"(a5), "r"(a6), "r"(a7) : "memory");
  struct sbiret ret = {(long)a0, (long)a1};
  return ret;
}

static inline struct sbiret sbi_set_timer(unsigned long deadline) {
  return sbi_call(SBI_EXT_TIME, SBI_TIME_SET_TIMER, deadline, 0, 0, 0, 0, 0);
}

static inline struct sbiret sbi_hart_start(unsigned long hartid, unsigned long start_addr, unsigned long opaque) {
  return sbi_call(SBI_EXT_HSM, SBI_HSM_HART_START, hartid, start_addr, opaque, 0, 0, 0);
}

static inline struct sbiret sbi_hart_stop(void) {
  return sbi_call(SBI_EXT_HSM, SBI_HSM_HART_STOP, 0, 0, 0, 0, 0, 0);
}

static inline struct sbiret sbi_hart_get_status(unsigned long hartid) {
  return sbi_call(SBI_EXT_HSM, SBI_HSM_HART_GET_STATUS, hartid, 0, 0, 0, 0, 0);
}

/* SRST system_reset; does not return when the VMM honours it. */
void sbi_system_reset(unsigned long type, unsigned long reason) __attribute__((noreturn));

#endif
