/*
 * Native helpers of the KVM backend, compiled when first needed by the TinyCC built into Bun (bun:ffi `cc`, from
 * sys.ts), with -nostdlib and no #include: Bun's TinyCC can rely on no system headers and no libc.so to link with
 * (hosts without the C development files have neither), so the two libc functions used are reached through
 * pointers that sys.ts looks up with dlsym and passes to axv_init. AXV_KVM_RUN comes from abi.ts through `define`.
 *
 * - axv_kvm_run: KVM_RUN with one int in and one int out (the cheapest call bun:ffi makes), errno folded into the
 *   result, so a vCPU exit costs one FFI crossing.
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

void *axv_kick_handler(void) { return (void *)kick_handler; }

void axv_set_kick_target(unsigned long immediate_exit) { kick_target = (volatile unsigned char *)immediate_exit; }
