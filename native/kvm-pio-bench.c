/*
 * Reference for bench/kvm-pio.ts: the same guest (test/guests/x86/pio-loop.bin, real mode at 0x8000, an `out` per
 * iteration) driven by plain C: KVM_RUN in a loop, reading the exit from kvm_run. Prints
 *   startup_ns <ns from KVM_CREATE_VM to the first exit>
 *   exit_ns <mean ns per exit over N exits>
 * Usage: kvm-pio-bench <guest.bin> <exits>
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM_SIZE 0x200000
#define LOAD 0x8000

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <guest.bin> <exits>\n", argv[0]);
    return 2;
  }
  long exits = atol(argv[2]);
  FILE *f = fopen(argv[1], "rb");
  if (!f) die("open guest");
  static uint8_t image[4096];
  size_t image_size = fread(image, 1, sizeof image, f);
  fclose(f);

  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("/dev/kvm");
  uint64_t t0 = now_ns();
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000) < 0) die("KVM_SET_TSS_ADDR");
  if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) die("KVM_CREATE_IRQCHIP");
  uint8_t *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (ram == MAP_FAILED) die("mmap ram");
  memcpy(ram + LOAD, image, image_size);
  struct kvm_userspace_memory_region region = {.slot = 0, .guest_phys_addr = 0, .memory_size = RAM_SIZE, .userspace_addr = (uint64_t)ram};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  int mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");
  struct kvm_sregs sregs;
  if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
  struct kvm_regs regs = {.rip = LOAD, .rflags = 2};
  if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");

  if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
  uint64_t t1 = now_ns();
  if (run->exit_reason != KVM_EXIT_IO) {
    fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
    return 1;
  }
  uint64_t sum = 0;
  uint64_t t2 = now_ns();
  for (long i = 0; i < exits; i++) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
    if (run->exit_reason != KVM_EXIT_IO) {
      fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
      return 1;
    }
    /* Read the value like the TypeScript side does, so both do the same work per exit. */
    uint16_t value;
    memcpy(&value, (uint8_t *)run + run->io.data_offset, sizeof value);
    sum += value + run->io.port;
  }
  uint64_t t3 = now_ns();
  printf("startup_ns %llu\n", (unsigned long long)(t1 - t0));
  printf("exit_ns %.1f\n", (double)(t3 - t2) / (double)exits);
  printf("checksum %llu\n", (unsigned long long)sum);
  return 0;
}
