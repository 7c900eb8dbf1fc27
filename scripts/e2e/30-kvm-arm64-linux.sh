#!/usr/bin/env bash
# ci-timeout-seconds: 2700
# End-to-end: Debian's arm64 Linux booted by OUR CLI on OUR aarch64 KVM backend, nested (this x86 host has no arm64
# KVM; see ../shared/notes/arm64-nested.md):
#
#   host ── qemu-system-aarch64 (TCG, -M virt,virtualization=on,gic-version=3 -cpu max,pauth=off,sve=off: an emulated EL2)
#            └─ Debian's arm64 kernel, KVM built in ── /dev/kvm (a real arm64 KVM)
#               └─ arm64 Bun (npm @oven/bun-linux-aarch64 + Debian's libc6:arm64) running our sources:
#                  0. axvisor info  (must report KVM available for aarch64 guests)
#                  1. bun test test/vmm-arm64.test.ts  (our bare-metal guests: PL011, MMIO widths, PSCI, SMP, GIC)
#                  2. bun src/cli/main.ts run linux-1.toml / linux-2.toml  (the user's path: the same Debian kernel
#                     with a busybox initramfs, 1 and 2 vCPUs, on the arm64-virt board with a virtio-blk disk; its
#                     init prints a marker, reads the disk's known first bytes, writes a line to its second sector
#                     and `poweroff -f`s, PSCI SYSTEM_OFF, so the CLI must exit 0 and the line be in the image)
#                  3. bun run bench kvm-arm64  (MMIO exit round trip vs C, VM create-to-first-exit), in a boot of its
#                     own under `-icount shift=0` (guest time counts instructions: a benchmark's ratio does not
#                     depend on the host's load, and periodic work (the kick thread, event-loop turns) weighs per
#                     exit as it would natively, not ten times more as under wall-clock TCG, where one nested exit
#                     takes ~60 us); AXVISOR_ARM64_BENCH_ICOUNT=0 keeps it in the main boot
#                  4. snapshot: bun test test/vmm-arm64-snapshot.test.ts  (pause freezes the guest's counter; snapshots
#                     restored into a new VM go on with the next count: vCPU registers, MP state, vGIC, timer)
#                  5. snapapi: bun scripts/e2e/kvm-snapshot-api.ts aarch64  (the same through the API socket, the
#                     restore in a new process)
#
# Pieces come from Debian (apt-get download: linux-image-*-arm64, busybox-static, libc6, all :arm64) and npm, and
# are cached outside the clone in ${AXVISOR_CACHE:-~/.cache/axvisor-ts}/kvm-arm64 (with .cache/kvm-arm64 linking
# to it); the outer initramfs is rebuilt when our sources change.
#
# Usage: scripts/e2e/30-kvm-arm64-linux.sh [--build-only] [--steps info,tests,linux1,linux2,bench,snapshot,snapapi]
#        [--timeout SECONDS]
#        [--inner-cmdline "..."]   (e.g. without "quiet" to see the inner kernel's log)
# Ends with "N passed, N failed"; exit status 0 only if every step passed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MARKER="AXVISOR-ARM64-E2E: init reached"
build_only=0
steps="info,tests,linux1,linux2,bench,snapshot,snapapi"
timeout_s="${AXVISOR_E2E_TIMEOUT:-1400}"
inner_cmdline="console=ttyAMA0 quiet panic=-1"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-only) build_only=1 ;;
    --steps) shift; steps="${1:?--steps needs a list}" ;;
    --timeout) shift; timeout_s="${1:?--timeout needs seconds}" ;;
    --inner-cmdline) shift; inner_cmdline="${1:?--inner-cmdline needs a value}" ;;
    -h|--help) sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kvm-arm64 e2e: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
# The bench step gets a boot of its own under icount (see above), run by this script again at the end.
bench_apart=0
if [[ ",$steps," == *",bench,"* && $steps != bench && $build_only == 0 && ${AXVISOR_ARM64_BENCH_ICOUNT:-1} != 0 ]]; then
  bench_apart=1
  steps="$(tr ',' '\n' <<<"$steps" | grep -vx bench | paste -sd, -)"
fi
if [[ $steps == bench && -z ${KVM_NESTED_QEMU_ARGS:-} && ${AXVISOR_ARM64_BENCH_ICOUNT:-1} != 0 ]]; then
  KVM_NESTED_QEMU_ARGS="-icount shift=0"
fi
expected=$(( $(tr ',' '\n' <<<"$steps" | grep -c .) ))

fail() {
  echo "FAIL kvm-arm64: $*"
  echo "0 passed, $expected failed"
  exit 1
}

# shellcheck source=../lib/cache.sh
source "$ROOT/scripts/lib/cache.sh"
CACHE="$(cache_dir "$ROOT" kvm-arm64)"

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}

for tool in qemu-system-aarch64 apt-get apt-cache dpkg dpkg-deb cpio npm bun tar; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (Debian: qemu-system-arm, apt, dpkg, cpio, npm)"
done

# --- downloads (once) ------------------------------------------------------------------------------------------
mkdir -p "$CACHE/debs" "$CACHE/bun"
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "== dpkg --add-architecture arm64; apt-get update"
  as_root dpkg --add-architecture arm64 && as_root apt-get update -q >/dev/null || fail "cannot add the arm64 architecture to apt"
fi
kernel_pkg="$(apt-cache depends linux-image-arm64:arm64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*-arm64\)\(:arm64\)\{0,1\}$/\1/p' | head -1)"
if [[ -z $kernel_pkg ]]; then
  as_root apt-get update -q >/dev/null 2>&1 || true
  kernel_pkg="$(apt-cache depends linux-image-arm64:arm64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*-arm64\)\(:arm64\)\{0,1\}$/\1/p' | head -1)"
fi
[[ -n $kernel_pkg ]] || fail "cannot resolve linux-image-arm64:arm64 (apt-get update with arm64 enabled?)"
cd "$CACHE/debs"
for pkg in "$kernel_pkg" busybox-static libc6; do
  if ! ls "${pkg}"_*_arm64.deb >/dev/null 2>&1; then
    echo "== downloading $pkg:arm64"
    apt-get download "$pkg:arm64" >/dev/null 2>&1 || fail "apt-get download $pkg:arm64 failed"
  fi
done
bun_version="$(bun --version)"
bun_tgz="$CACHE/bun/oven-bun-linux-aarch64-$bun_version.tgz"
if [[ ! -f $bun_tgz ]]; then
  echo "== npm pack @oven/bun-linux-aarch64@$bun_version"
  (cd "$CACHE/bun" && npm pack "@oven/bun-linux-aarch64@$bun_version" >/dev/null 2>&1) || fail "npm pack @oven/bun-linux-aarch64@$bun_version failed"
fi
unpack() { # unpack <deb|tgz> <dir>: once
  [[ -d $2 ]] && return 0
  rm -rf "$2.tmp" && mkdir -p "$2.tmp"
  case "$1" in
    *.deb) dpkg-deb -x "$1" "$2.tmp" ;;
    *.tgz) tar xzf "$1" -C "$2.tmp" ;;
  esac
  mv "$2.tmp" "$2"
}
unpack "$(ls "$CACHE"/debs/"$kernel_pkg"_*_arm64.deb | head -1)" "$CACHE/x/kernel-$kernel_pkg"
unpack "$(ls "$CACHE"/debs/busybox-static_*_arm64.deb | head -1)" "$CACHE/x/busybox"
unpack "$(ls "$CACHE"/debs/libc6_*_arm64.deb | head -1)" "$CACHE/x/libc6"
unpack "$bun_tgz" "$CACHE/x/bun-$bun_version"
IMAGE="$(ls "$CACHE/x/kernel-$kernel_pkg"/boot/vmlinuz-* | head -1)"
BUN_ARM64="$CACHE/x/bun-$bun_version/package/bin/bun"
[[ -x $BUN_ARM64 ]] || fail "no bun binary in @oven/bun-linux-aarch64@$bun_version"

# A busybox root: the static arm64 busybox plus the applets the init scripts use.
busybox_root() {
  mkdir -p "$1"/{bin,dev,proc,sys,tmp,root}
  cp "$CACHE/x/busybox/bin/busybox" "$1/bin/busybox"
  for applet in sh mount echo cat grep poweroff sleep uname ls mkdir date tee insmod dd head sync cp; do
    ln -sf busybox "$1/bin/$applet"
  done
}

# --- the inner guest: Debian's kernel again, a busybox init that prints the marker, checks its virtio disk (read
# the known first bytes, write a line to the second sector: virtio-blk notifications through KVM_IOEVENTFD and its
# interrupt through KVM_IRQFD) and powers off. virtio_mmio and virtio_blk are modules in Debian's arm64 kernel.
INNER_MODULES="virtio_mmio virtio_blk"
DISK_PATTERN="AXVISOR-ARM64-DISK-PATTERN"
INNER_INIT='#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
say() { echo "AXVISOR-ARM64-E2E: $*"; }
for m in '"$INNER_MODULES"'; do insmod /lib/modules/$m.ko || say "insmod $m failed"; done
cpus=$(grep -c ^processor /proc/cpuinfo)
echo "'"$MARKER"' (kernel $(uname -r), cpus $cpus)"
n=0; while [ ! -b /dev/vda ] && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
head="$(dd if=/dev/vda bs=26 count=1 2>/dev/null)"
if [ "$head" = "'"$DISK_PATTERN"'" ]; then say "disk read ok ($(cat /sys/block/vda/size) sectors)"; else say "disk read FAILED: [$head]"; fi
echo "AXVISOR-ARM64-DISK-WRITTEN-$cpus" | dd of=/dev/vda bs=512 seek=1 conv=sync 2>/dev/null && sync && say "disk write done"
poweroff -f'
MODDIR="$(ls -d "$CACHE/x/kernel-$kernel_pkg"/lib/modules/* | head -1)/kernel"
INNER="$CACHE/inner-initrd-$(printf '%s' "$INNER_INIT" | sha256sum | cut -c1-16).cpio"
if [[ ! -f $INNER ]]; then
  echo "== building the inner initramfs"
  rm -f "$CACHE"/inner-initrd-*.cpio
  work="$(mktemp -d)"
  busybox_root "$work"
  printf '%s\n' "$INNER_INIT" > "$work/init"
  mkdir -p "$work/lib/modules"
  for name in $INNER_MODULES; do
    found="$(find "$MODDIR" -name "$name.ko*" | head -1)"
    [[ -n $found ]] || fail "module $name is not in $kernel_pkg"
    case "$found" in
      *.xz) xz -dc "$found" ;;
      *.zst) zstd -dc "$found" ;;
      *) cat "$found" ;;
    esac > "$work/lib/modules/$name.ko"
  done
  chmod +x "$work/init"
  (cd "$work" && find . | cpio -o -H newc --quiet) > "$INNER.tmp" && mv "$INNER.tmp" "$INNER"
  rm -rf "$work"
fi

# The inner VM's config, as a user would write it: the CLI's path (base.arch selects the arm64-virt board).
inner_toml() {
  cat <<EOF
[base]
id = 1
name = "linux-arm64-$1cpu"
vm_type = 2
cpu_num = $1
arch = "aarch64"
backend = "kvm"
on_reset = "stop"

[kernel]
kernel_path = "/inner/Image"
kernel_load_addr = 0x4000_0000
ramdisk_path = "/inner/initrd.cpio"
cmdline = "$inner_cmdline"
memory_regions = [[0x4000_0000, 0x1000_0000, 0x7, 0]]

[devices]
console = "stdout"

[[devices.disks]]
path = "/tmp/disk-$1.img"
EOF
}

# --- the C reference of the benchmark, built here for arm64 (the nested guest has no compiler) -------------------
BENCH_C=""
if [[ ",$steps," == *",bench,"* ]]; then
  if command -v aarch64-linux-gnu-gcc >/dev/null; then
    BENCH_C="$CACHE/kvm-arm64-mmio-bench-$(sha256sum "$ROOT/native/kvm-arm64-mmio-bench.c" | cut -c1-16)"
    [[ -x $BENCH_C ]] || aarch64-linux-gnu-gcc -static -O2 -Wall -Werror -o "$BENCH_C" "$ROOT/native/kvm-arm64-mmio-bench.c" \
      || fail "cannot build native/kvm-arm64-mmio-bench.c with aarch64-linux-gnu-gcc"
  else
    echo "   (aarch64-linux-gnu-gcc missing: the benchmark runs without its C reference)"
  fi
fi

# --- the outer guest: Bun, our sources, the inner kernel and initramfs ------------------------------------------
sources_hash="$( (cd "$ROOT" && cat package.json tsconfig.json bunfig.toml $(find src test bench scripts/e2e -type f \( -name '*.ts' -o -name '*.c' -o -name '*.bin' \) | sort); cat "$INNER"; echo "$steps $timeout_s $inner_cmdline $BENCH_C $IMAGE $bun_version") | sha256sum | cut -c1-16)"
OUTER="$CACHE/outer-initrd-$sources_hash.cpio"
if [[ ! -f $OUTER ]]; then
  echo "== building the outer initramfs (arm64 Bun + our sources)"
  rm -f "$CACHE"/outer-initrd-*.cpio
  work="$(mktemp -d)"
  busybox_root "$work"
  mkdir -p "$work/inner" "$work/axvisor" "$work/lib/aarch64-linux-gnu"
  cp "$IMAGE" "$work/inner/Image"
  cp "$INNER" "$work/inner/initrd.cpio"
  inner_toml 1 > "$work/inner/linux-1.toml"
  inner_toml 2 > "$work/inner/linux-2.toml"
  # The inner disk: the known pattern in its first bytes, 1 MiB in all (each run writes a fresh copy in /tmp).
  { printf '%s' "$DISK_PATTERN"; head -c $((0x100000 - ${#DISK_PATTERN})) /dev/zero; } > "$work/inner/disk.img"
  cp "$BUN_ARM64" "$work/bin/bun"
  # Bun asks for /lib/ld-linux-aarch64.so.1 and libc, libm, libpthread, libdl from Debian's arm64 glibc.
  for lib in ld-linux-aarch64.so.1 libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2; do
    cp -L "$CACHE/x/libc6/lib/aarch64-linux-gnu/$lib" "$work/lib/aarch64-linux-gnu/"
  done
  ln -s aarch64-linux-gnu/ld-linux-aarch64.so.1 "$work/lib/ld-linux-aarch64.so.1"
  [[ -n $BENCH_C ]] && cp "$BENCH_C" "$work/bin/kvm-arm64-mmio-bench"
  # Our sources and their runtime dependencies (pure JavaScript packages: the same on every architecture).
  (cd "$ROOT" && tar cf - package.json tsconfig.json bunfig.toml src test bench native scripts/e2e/kvm-snapshot-api.ts \
    node_modules/citty node_modules/consola node_modules/smol-toml node_modules/zod) | tar xf - -C "$work/axvisor"
  {
    echo '#!/bin/sh'
    echo 'export PATH=/bin HOME=/root TMPDIR=/tmp'
    echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev'
    echo '[ -c /dev/kvm ] || echo "AXVISOR-ARM64-E2E: no /dev/kvm in the outer guest"'
    echo 'cd /axvisor'
    # Bun 1.4.5 itself died now and then under QEMU's TCG (abort() or a trap inside Bun, mostly with emulated pointer
    # authentication: see the qemu line). A step whose Bun died by a signal (status >= 128) runs once more, and says
    # so: the host side reports the retry with the step's result.
    echo 'run_once() { start=$(date +%s); "$@"; status=$?; took=$(( $(date +%s) - start )); }'
    echo 'step() { name=$1; shift; run_once "$@"; if [ $status -ge 128 ]; then echo "AXVISOR-ARM64-E2E-RETRY $name $status"; run_once "$@"; fi; echo "AXVISOR-ARM64-E2E-RESULT $name $status ${took}s"; }'
    # AXVISOR_ARM64_NO_SSE: QEMU 7.2's emulated CPU reports no sign extension (ESR ISS.SSE) for MMIO loads, so the
    # nested KVM zero-extends them; test/vmm-arm64.test.ts then expects exactly that (see the mmio-widths test).
    for step in ${steps//,/ }; do
      case "$step" in
        info) echo "step info sh -c 'bun src/cli/main.ts info | tee /tmp/info && grep -q \"^  kvm  *available  *guests aarch64\" /tmp/info'" ;;
        tests) echo 'step tests env AXVISOR_ARM64_NO_SSE=1 bun test --timeout 600000 test/vmm-arm64.test.ts' ;;
        # The CLI must exit 0 and the line the inner guest wrote must be in the image afterwards.
        linux1|linux2) n="${step#linux}"
          echo "step $step sh -c 'cp /inner/disk.img /tmp/disk-$n.img && bun src/cli/main.ts run --log-level info /inner/linux-$n.toml && dd if=/tmp/disk-$n.img bs=512 skip=1 count=1 2>/dev/null | grep -q AXVISOR-ARM64-DISK-WRITTEN-$n'" ;;
        snapshot) echo 'step snapshot bun test --timeout 600000 test/vmm-arm64-snapshot.test.ts' ;;
        snapapi) echo 'step snapapi bun scripts/e2e/kvm-snapshot-api.ts aarch64' ;;
        bench) echo "step bench env KVM_ARM64_BENCH_EXE=${BENCH_C:+/bin/kvm-arm64-mmio-bench} KVM_BENCH_EXITS=3000 bun run bench kvm-arm64" ;;
        *) echo "unknown step $step" >&2; exit 2 ;;
      esac
    done
    echo 'poweroff -f'
  } > "$work/init"
  chmod +x "$work/init"
  # Uncompressed: gunzip under TCG costs more than QEMU copying the bytes in.
  (cd "$work" && find . | cpio -o -H newc --quiet) > "$OUTER.tmp" && mv "$OUTER.tmp" "$OUTER"
  rm -rf "$work"
fi
echo "   kernel $IMAGE"
echo "   outer initramfs $OUTER ($(du -h "$OUTER" | cut -f1))"

if [[ $build_only -eq 1 ]]; then
  echo "PASS kvm-arm64 build"
  echo "1 passed, 0 failed"
  exit 0
fi

# One log per run: two runs at once (other worktrees share the cache) must not write into one file.
find "$CACHE" -maxdepth 1 -name 'run.*.log' -mtime +1 -delete 2>/dev/null || true
LOG="$(mktemp "$CACHE/run.XXXXXX.log")"
echo "== booting (TCG, nested arm64 KVM; budget ${timeout_s}s; log $LOG)"
started=$(date +%s)
set +e
# -cpu max without pointer authentication and SVE: QEMU 7.2 emulates PAC (which Debian's kernel and glibc use on
# every call and return) very slowly, and Bun under it died now and then (abort, SIGSEGV, a trap: 5 in about 25 Bun
# runs here); without them one nested MMIO exit costs ~65 us instead of ~400 us, and none of 20 runs died. The guests
# need neither. KVM_NESTED_QEMU_ARGS adds QEMU options (e.g. "-icount shift=0" for load-independent benchmark times).
timeout "$timeout_s" qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu max,pauth=off,sve=off -smp 2 -m 2048 \
  -nodefaults -no-user-config -nographic -serial stdio -kernel "$IMAGE" -initrd "$OUTER" \
  -append "console=ttyAMA0 quiet panic=-1" -no-reboot ${KVM_NESTED_QEMU_ARGS:-} </dev/null >"$LOG" 2>&1
qemu_status=$?
set -e
elapsed=$(( $(date +%s) - started ))
tail -n 60 "$LOG"

passed=0
failed=0
for step in ${steps//,/ }; do
  line="$(grep -a "AXVISOR-ARM64-E2E-RESULT $step " "$LOG" | tail -1 | tr -d '\r' || true)"
  status="$(awk '{print $3}' <<<"$line")"
  took="$(awk '{print $4}' <<<"$line")"
  ok=0
  case "$step" in
    linux1|linux2)
      cpus="${step#linux}"
      # The marker line can be split by log lines on the same console: check its parts separately.
      [[ $status == 0 ]] && grep -qa "$MARKER" "$LOG" && grep -qa "cpus $cpus)" "$LOG" && grep -qa "disk read ok" "$LOG" && ok=1 ;;
    *) [[ $status == 0 ]] && ok=1 ;;
  esac
  retry="$(grep -a "AXVISOR-ARM64-E2E-RETRY $step " "$LOG" | tail -1 | awk '{print $3}' | tr -d '\r' || true)"
  [[ -n $retry ]] && took="$took; retried once: Bun died with status $retry on the first run"
  if [[ $ok == 1 ]]; then
    echo "PASS kvm-arm64 $step ($took)"
    passed=$((passed + 1))
  else
    echo "FAIL kvm-arm64 $step (${line:-no result line}; qemu exit $qemu_status after ${elapsed}s; see $LOG)"
    failed=$((failed + 1))
  fi
done
echo "   total ${elapsed}s in the nested guest"
if [[ $bench_apart == 1 ]]; then
  echo "== the bench step, in a boot of its own under -icount shift=0"
  # (By its path from ROOT: this script has changed directory since.)
  bench_status=0
  bench_out="$(AXVISOR_E2E_TIMEOUT="$timeout_s" bash "$ROOT/scripts/e2e/30-kvm-arm64-linux.sh" --steps bench \
    --inner-cmdline "$inner_cmdline" 2>&1)" || bench_status=$?
  grep -av "^[0-9]* passed, [0-9]* failed$" <<<"$bench_out" || true
  [[ $bench_status == 0 ]] || echo "   (the bench boot's script exited with $bench_status)"
  if grep -aq "^PASS kvm-arm64 bench" <<<"$bench_out"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
