/*
 * Native helpers of the KVM backend, compiled when first needed by the TinyCC built into Bun (Bun's `cc`, called from
 * sys.ts), with -nostdlib and no #include: Bun's TinyCC can rely on no system headers and no libc.so to link with
 * (hosts without the C development files have neither), so the two libc functions used are reached through
 * pointers that sys.ts looks up with dlsym and passes to axv_init. AXV_KVM_RUN comes from abi.ts through `define`.
 *
 * - axv_kvm_run: KVM_RUN with one int in and one int out (the cheapest FFI call Bun makes), errno folded into the
 *   result, so a vCPU exit costs one FFI crossing.
 * - axv_kvm_run_access: KVM_RUN for the in-place access loop (vcpu.ts `runAccesses`), with the exit's first look
 *   done here rather than through several reads of the mapping from JavaScript: -errno, or the exit reason, or for
 *   one `in`/`out` of 1, 2 or 4 bytes whose data sits at the start of the PIO page (what KVM always does) a packed
 *   word AXV_PORT_IO | direction << 24 | size << 16 | port. The vCPU's kvm_run address is registered per fd with
 *   axv_set_run. The kvm_run offsets come from abi.ts through `define` (checked against <linux/kvm.h> by
 *   test/kvm/abi-layout.test.ts).
 * - the kick handler: a SIGURG handler for the thread that runs a caller-thread vCPU (vcpu.ts). It sets that
 *   vCPU's kvm_run.immediate_exit, as QEMU's SIG_IPI handler does: a SIGURG that lands after the thread decided to
 *   enter but before KVM_RUN checks immediate_exit still makes that KVM_RUN return -EINTR at once, and one that
 *   lands during the run interrupts it (a handled, unblocked signal makes KVM_RUN return -EINTR). A signal handler
 *   must be native code: JavaScript cannot run in signal context.
 */
static int (*libc_ioctl)(int fd, unsigned long request, ...);
static int *(*libc_errno_location)(void);

void axv_init(unsigned long ioctl_address, unsigned long errno_location_address) {
  libc_ioctl = (int (*)(int, unsigned long, ...))ioctl_address;
  libc_errno_location = (int *(*)(void))errno_location_address;
}

/* The immediate_exit byte of the kvm_run of the vCPU that runs on the signalled thread (0: none). */
static volatile unsigned char *kick_target;

static void kick_handler(int signal) {
  volatile unsigned char *immediate_exit = kick_target;
  (void)signal;
  if (immediate_exit != 0) *immediate_exit = 1;
}

int axv_kvm_run(int vcpu_fd) {
  int result = libc_ioctl(vcpu_fd, (unsigned long)AXV_KVM_RUN, 0UL);
  return result < 0 ? -*libc_errno_location() : result;
}

/* Each vCPU fd's kvm_run mapping (0: none), for axv_kvm_run_access; fds at or above AXV_RUN_FDS are not served. */
#define AXV_RUN_FDS 4096
static unsigned char *run_of_fd[AXV_RUN_FDS];

/* Register (or, with 0, forget) vCPU fd's kvm_run address; 1 when axv_kvm_run_access serves this fd, else 0. */
int axv_set_run(int vcpu_fd, unsigned long run_address) {
  if (vcpu_fd < 0 || vcpu_fd >= AXV_RUN_FDS) return 0;
  run_of_fd[vcpu_fd] = (unsigned char *)run_address;
  return 1;
}

int axv_kvm_run_access(int vcpu_fd) {
  unsigned char *run = run_of_fd[vcpu_fd & (AXV_RUN_FDS - 1)];
  unsigned int head;
  unsigned int size;
  int result;
  if (run == 0) return -AXV_EBADF;
  result = libc_ioctl(vcpu_fd, (unsigned long)AXV_KVM_RUN, 0UL);
  if (result < 0) return -*libc_errno_location();
  if (*(unsigned int *)(run + AXV_EXIT_REASON) != AXV_EXIT_IO || *(unsigned int *)(run + AXV_IO_COUNT) != 1 ||
      *(unsigned long *)(run + AXV_IO_DATA_OFFSET) != AXV_PIO_DATA) {
    return (int)*(unsigned int *)(run + AXV_EXIT_REASON);
  }
  /* direction (u8), size (u8), port (u16): one little-endian word */
  head = *(unsigned int *)(run + AXV_IO_HEAD);
  size = (head >> 8) & 0xff;
  if (size != 1 && size != 2 && size != 4) return AXV_EXIT_IO;
  return AXV_PORT_IO | (int)((head & 0xff) << 24) | (int)(size << 16) | (int)(head >> 16);
}

void *axv_kick_handler(void) { return (void *)kick_handler; }

void axv_set_kick_target(unsigned long immediate_exit) { kick_target = (volatile unsigned char *)immediate_exit; }

/*
 * The two KVM_RUN entry points' addresses: sys.ts binds them a second time with linkSymbols, whose calls the engine
 * makes directly from JIT code, about a third of the cost of a call through cc()'s own wrappers.
 */
void *axv_kvm_run_address(void) { return (void *)axv_kvm_run; }

void *axv_kvm_run_access_address(void) { return (void *)axv_kvm_run_access; }
