/*
 * Reference for bench/kvm-arm64.ts: the same guest (test/guests/arm64/mmio-loop.bin at 0x4000_0000, one 32-bit
 * store to an unbacked address per iteration) driven by plain C: KVM_RUN in a loop, reading the exit from kvm_run.
 * The VM gets the in-kernel GICv3 at the arm64-virt board's addresses, as ours does, so both pay for the same
 * machine. Prints
 *   startup_ns <ns from KVM_CREATE_VM to the first exit>
 *   exit_ns <mean ns per exit over N exits>
 * Usage: kvm-arm64-mmio-bench <guest.bin> <exits>   (built for arm64: aarch64-linux-gnu-gcc -static -O2)
 */
#include <fcntl.h>
#include <stddef.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM_BASE 0x40000000ULL
#define RAM_SIZE 0x200000
#define GICD_BASE 0x08000000ULL
#define GICR_BASE 0x080a0000ULL

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void set_attr(int fd, uint32_t group, uint64_t attr, uint64_t *value) {
  struct kvm_device_attr a = {.group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)value};
  if (ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0) die("KVM_SET_DEVICE_ATTR");
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
  struct kvm_create_device gic = {.type = KVM_DEV_TYPE_ARM_VGIC_V3};
  if (ioctl(vm, KVM_CREATE_DEVICE, &gic) < 0) die("KVM_CREATE_DEVICE");
  uint64_t dist = GICD_BASE, redist = GICR_BASE;
  set_attr(gic.fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist);
  set_attr(gic.fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist);
  uint8_t *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (ram == MAP_FAILED) die("mmap ram");
  memcpy(ram, image, image_size);
  struct kvm_userspace_memory_region region = {
      .slot = 0, .guest_phys_addr = RAM_BASE, .memory_size = RAM_SIZE, .userspace_addr = (uint64_t)(uintptr_t)ram};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  struct kvm_vcpu_init init;
  if (ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) < 0) die("KVM_ARM_PREFERRED_TARGET");
  memset(init.features, 0, sizeof init.features);
  init.features[0] = 1u << KVM_ARM_VCPU_PSCI_0_2;
  if (ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) < 0) die("KVM_ARM_VCPU_INIT");
  set_attr(gic.fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);
  uint64_t pc = RAM_BASE;
  struct kvm_one_reg reg = {.id = KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(regs.pc),
                            .addr = (uint64_t)(uintptr_t)&pc};
  if (ioctl(vcpu, KVM_SET_ONE_REG, &reg) < 0) die("KVM_SET_ONE_REG pc");
  int mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");

  if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
  uint64_t t1 = now_ns();
  if (run->exit_reason != KVM_EXIT_MMIO) {
    fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
    return 1;
  }
  uint64_t sum = 0;
  uint64_t t2 = now_ns();
  for (long i = 0; i < exits; i++) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
    if (run->exit_reason != KVM_EXIT_MMIO) {
      fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
      return 1;
    }
    sum += run->mmio.phys_addr + run->mmio.data[0];
  }
  uint64_t t3 = now_ns();
  printf("startup_ns %llu\n", (unsigned long long)(t1 - t0));
  printf("exit_ns %llu\n", (unsigned long long)(exits > 0 ? (t3 - t2) / (uint64_t)exits : 0));
  printf("checksum %llu\n", (unsigned long long)sum);
  return 0;
}
