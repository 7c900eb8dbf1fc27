#!/usr/bin/env bash
# ci-timeout-seconds: 1500
# End-to-end: boot Debian's x86_64 cloud kernel with a busybox initramfs on OUR KVM backend, nested:
#
#   host ── qemu-system-x86_64 (TCG, -cpu max: emulated AMD SVM) ── Debian cloud kernel + kvm-amd
#            └─ /dev/kvm (a real, hardware-style KVM) ── Bun + scripts/e2e/kvm-linux-boot.ts (our VMM: a VM config,
#               the x86 PC machine, the KVM backend) ── the same Debian kernel + a busybox init
#
# The inner guest boots with a stock command line (no i8042.* options, no pci=off) and virtio devices (a virtio-blk
# disk image the script makes, a virtio-rng, a virtio-console), found through the DSDT; its init loads the virtio
# modules, prints "AXVISOR-KVM-E2E: init reached", checks the kernel log has no ACPI errors, reads /dev/hwrng,
# reads the disk's known first bytes and writes a line to its second sector, says hello on /dev/hvc0, and ends the
# way its case says (the case name is passed to init after "--" on the command line). One outer boot runs every case:
#   poweroff     `poweroff -f`: ACPI S5; the driver wants the VM stopped by PM1a_CNT.SLP_EN. This case also has a
#                virtio-net on TAP axtap0 (created by the VMM in the outer guest, addressed there 10.0.2.2/24): the
#                inner guest must ping the outer side through it
#   reboot       `reboot -f` with reboot=k (the i8042 reset pulse) and on_reset = "stop": stopped by the reset
#   ctrlaltdel   init waits; the driver sends Ctrl-A R's request (Ctrl-Alt-Del on the keyboard: no ACPI button
#                driver is loaded), the kernel restarts through the FADT's reset register: stopped by the reset
#   powerbutton  init loads the ACPI button driver and waits; Ctrl-A R's request presses the ACPI power button, the
#                init sees the SCI in /proc/interrupts and powers off: stopped by ACPI S5
#   tuned        as poweroff (without the TAP) on the command line guests needed before the i8042 answered AUX
#                probes (i8042.noaux i8042.nomux pci=off): the script prints every case's guest uptime at init
# The outer init prints "AXVISOR-KVM-E2E-RESULT <case> <status>" per case, checks the disk image for the line the
# case wrote, and powers off. (This host's own /dev/kvm is PVM, which emulates ring-0 code far too slowly to boot
# Linux.)
#
# Pieces are downloaded (apt-get download: linux-image-*-cloud-amd64, busybox-static) and built once under
# $AXVISOR_CACHE/kvm-linux (outside the clone, see scripts/lib/cache.sh; .cache/kvm-linux links to it); the outer
# initramfs is rebuilt when our sources change. The VMM's npm dependencies come from the clone's node_modules
# (installed with `bun install --frozen-lockfile` when missing).
#
# Usage: scripts/e2e/20-kvm-linux.sh [--build-only] [--timeout SECONDS] [--cpus N] [--inner-cmdline "..."]
#            [--cases "poweroff reboot ctrlaltdel powerbutton"]
# (--inner-cmdline replaces the inner kernel's base command line, e.g. without "quiet" to see its boot log.)
# Ends with "N passed, N failed" (one per case); exit status 0 only if every case passed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../lib/cache.sh
source "$ROOT/scripts/lib/cache.sh"
# shellcheck source=../lib/initramfs.sh
source "$ROOT/scripts/lib/initramfs.sh"
MARKER="AXVISOR-KVM-E2E: init reached"
build_only=0
timeout_s="${AXVISOR_E2E_TIMEOUT:-3600}"
inner_cpus=1
inner_cmdline=""
all_cases="poweroff reboot ctrlaltdel powerbutton tuned"
cases="$all_cases"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-only) build_only=1 ;;
    --timeout) shift; timeout_s="${1:?--timeout needs seconds}" ;;
    --cpus) shift; inner_cpus="${1:?--cpus needs a count}" ;;
    --inner-cmdline) shift; inner_cmdline="${1:?--inner-cmdline needs a value}" ;;
    --cases) shift; cases="${1:?--cases needs case names}" ;;
    -h|--help) sed -n '2,33p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kvm-linux e2e: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
for case_name in $cases; do
  [[ " $all_cases " == *" $case_name "* ]] || { echo "kvm-linux e2e: unknown case '$case_name' (cases: $all_cases)" >&2; exit 2; }
done

counted=""
fail() {
  echo "FAIL kvm-linux: $*"
  echo "0 passed, 1 failed"
  counted=1
  exit 1
}
# Temporary folders go whatever happens; an unexpected stop still ends with the count line CI looks for.
temps=()
on_exit() {
  local status=$?
  [[ ${#temps[@]} -gt 0 ]] && rm -rf "${temps[@]}"
  if [[ -z $counted ]]; then
    echo "FAIL kvm-linux: stopped early (exit $status)"
    echo "0 passed, 1 failed"
  fi
}
trap on_exit EXIT
CACHE="$(cache_dir "$ROOT" kvm-linux)"
# The VMM's runtime dependencies are copied from node_modules into the outer guest.
NPM_DEPS=(consola smol-toml zod)
if ! (cd "$ROOT" && for dep in "${NPM_DEPS[@]}"; do [[ -f node_modules/$dep/package.json ]] || exit 1; done); then
  echo "== bun install --frozen-lockfile (node_modules lacks ${NPM_DEPS[*]})"
  (cd "$ROOT" && bun install --frozen-lockfile >/dev/null) || fail "bun install --frozen-lockfile failed"
fi
for tool in qemu-system-x86_64 apt-get dpkg-deb cpio gzip bun ldd; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (qemu-system-x86, apt, cpio, gzip, bun)"
done

mkdir -p "$CACHE/debs"
cd "$CACHE/debs"
kernel_pkg="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -1)"
[[ -n $kernel_pkg ]] || fail "cannot resolve linux-image-cloud-amd64 (run apt-get update)"
for pkg in "$kernel_pkg" busybox-static; do
  if ! ls "${pkg}"_*.deb >/dev/null 2>&1; then
    echo "== downloading $pkg"
    apt-get download "$pkg" >/dev/null 2>&1 || fail "apt-get download $pkg failed"
  fi
done
kernel_deb="$(ls "${kernel_pkg}"_*.deb | head -1)"
busybox_deb="$(ls busybox-static_*.deb | head -1)"

if [[ ! -d "$CACHE/kernel/boot" ]]; then
  echo "== unpacking $kernel_deb"
  rm -rf "$CACHE/kernel" && mkdir -p "$CACHE/kernel" && dpkg-deb -x "$kernel_deb" "$CACHE/kernel"
fi
if [[ ! -x "$CACHE/busybox/bin/busybox" ]]; then
  rm -rf "$CACHE/busybox" && mkdir -p "$CACHE/busybox" && dpkg-deb -x "$busybox_deb" "$CACHE/busybox"
fi
VMLINUZ="$(ls "$CACHE"/kernel/boot/vmlinuz-* | head -1)"
MODDIR="$(ls -d "$CACHE"/kernel/lib/modules/* | head -1)/kernel"

# One module file, decompressed (scripts/lib/initramfs.sh).
module() { kernel_module "$MODDIR" "$1" || fail "module $1 not found under $MODDIR"; }

# A busybox root: /bin/busybox plus the applets the init scripts use.
busybox_root() {
  local dir="$1"
  mkdir -p "$dir"/{bin,dev,proc,sys,tmp,root}
  cp "$CACHE/busybox/bin/busybox" "$dir/bin/busybox"
  for applet in sh mount echo cat grep insmod reboot poweroff sleep uname ls mkdir cp dd dmesg wc head awk cut sync ip ping; do
    ln -sf busybox "$dir/bin/$applet"
  done
}

# --- the inner guest: the same kernel, the virtio modules, a busybox init that checks the machine and ends -----------
# The virtio drivers are modules in Debian's cloud kernel; button.ko is the ACPI power-button driver (powerbutton case).
INNER_MODULES="virtio_ring virtio virtio_mmio virtio_blk virtio-rng virtio_console failover net_failover virtio_net button"
# The poweroff case also has a virtio-net on a TAP the VMM creates in the outer guest (its init gives the TAP
# 10.0.2.2/24 once it appears); the inner guest takes 10.0.2.15/24 and pings the outer side.
TAP_NAME="axtap0"
DISK_PATTERN="AXVISOR-E2E-DISK-PATTERN"
SHUTDOWN_PROMPT="AXVISOR-KVM-E2E: waiting for the shutdown request"
INNER_INIT='#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mode="$1"
say() { echo "AXVISOR-KVM-E2E: $*"; }
for m in virtio_ring virtio virtio_mmio virtio_blk virtio-rng virtio_console failover net_failover virtio_net; do
  insmod /lib/modules/$m.ko || say "insmod $m failed"
done
[ "$mode" = powerbutton ] && { insmod /lib/modules/button.ko || say "insmod button failed"; }
say "init reached (kernel $(uname -r), cpus $(grep -c ^processor /proc/cpuinfo), mode $mode, uptime $(cut -d" " -f1 /proc/uptime) s)"
errors="$(dmesg | grep -E "ACPI Error|ACPI BIOS Error|Unable to start the ACPI Interpreter")"
if [ -z "$errors" ]; then say "acpi-errors none"; else say "acpi-errors:"; echo "$errors" | head -n 10; fi
dmesg | grep -E "serio|i8042" | head -n 4
# Informational: the CPUID bit is there when the KVM of the (nested) host emulates TSC-deadline mode.
if grep -q tsc_deadline_timer /proc/cpuinfo; then say "tsc-deadline advertised"; else say "tsc-deadline not advertised"; fi
say "hwrng $(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | wc -c) bytes from $(cat /sys/class/misc/hw_random/rng_current)"
head="$(dd if=/dev/vda bs=24 count=1 2>/dev/null)"
if [ "$head" = "'"$DISK_PATTERN"'" ]; then say "disk read ok ($(cat /sys/block/vda/size) sectors)"; else say "disk read FAILED: [$head]"; fi
echo "AXVISOR-E2E-DISK-WRITTEN-$mode" | dd of=/dev/vda bs=512 seek=1 conv=sync 2>/dev/null && sync && say "disk write done"
# The serial console drains in the background (interrupt-driven): let it finish before the virtio console writes
# to the same host console, so their lines do not interleave.
sleep 1
echo "AXVISOR-KVM-E2E: hvc0 says hello" > /dev/hvc0
if [ -d /sys/class/net/eth0 ]; then
  ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up
  if ping -c 3 -W 5 10.0.2.2 >/dev/null 2>&1; then say "net ping ok"; else say "net ping FAILED"; fi
fi
case "$mode" in
  poweroff|tuned) poweroff -f ;;
  reboot) reboot -f ;;
  ctrlaltdel) say "waiting for the shutdown request" ;;
  powerbutton)
    say "waiting for the shutdown request"
    n=0; i=0
    while [ "$i" -lt 60 ]; do
      n="$(awk "/acpi/ { s = 0; for (f = 2; f <= NF; f++) if (\$f ~ /^[0-9]+\$/) s += \$f; print s }" /proc/interrupts)"
      [ "${n:-0}" -gt 0 ] && break
      sleep 1; i=$((i + 1))
    done
    say "sci interrupts ${n:-0}"
    sleep 1; poweroff -f ;;
esac
sleep 600'
INNER="$CACHE/inner-initrd-$( (printf '%s' "$INNER_INIT $INNER_MODULES"; cat "$VMLINUZ") | sha256sum | cut -c1-16).cpio.gz"
if [[ ! -f $INNER ]]; then
  echo "== building the inner initramfs"
  rm -f "$CACHE"/inner-initrd-*.cpio.gz
  work="$(mktemp -d)"
  temps+=("$work")
  busybox_root "$work"
  mkdir -p "$work/lib/modules"
  for name in $INNER_MODULES; do module "$name" > "$work/lib/modules/$name.ko"; done
  printf '%s\n' "$INNER_INIT" > "$work/init"
  chmod +x "$work/init"
  (cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) > "$INNER"
fi

# --- the outer guest: kvm-amd, Bun and our sources -------------------------------------------------------------------
sources_hash="$( (cd "$ROOT" && cat package.json tsconfig.json $(find src scripts/e2e \( -name '*.ts' -o -name '*.c' \) -not -name '*.test.ts' | sort); cat "$INNER"; echo "$inner_cpus $timeout_s $inner_cmdline $cases") | sha256sum | cut -c1-16)"
OUTER="$CACHE/outer-initrd-$sources_hash.cpio.gz"
if [[ ! -f $OUTER ]]; then
  echo "== building the outer initramfs (Bun + our sources)"
  rm -f "$CACHE"/outer-initrd-*.cpio.gz
  work="$(mktemp -d)"
  temps+=("$work")
  busybox_root "$work"
  mkdir -p "$work/modules" "$work/inner" "$work/axvisor"
  for name in irqbypass kvm kvm-amd tun; do module "$name" > "$work/modules/$name.ko"; done
  cp "$VMLINUZ" "$work/inner/vmlinuz"
  cp "$INNER" "$work/inner/initrd.cpio.gz"
  bun_exe="$(readlink -f "$(command -v bun)")"
  initramfs_add_host_bun "$work" "$bun_exe"
  # The VMM and its runtime dependencies (the CLI's citty is not needed by the driver).
  (cd "$ROOT" && tar cf - package.json tsconfig.json bunfig.toml src scripts/e2e/kvm-linux-boot.ts \
    "${NPM_DEPS[@]/#/node_modules/}") | tar xf - -C "$work/axvisor"
  # The inner disk: the known pattern in its first bytes, 1 MiB in all.
  { printf '%s' "$DISK_PATTERN"; head -c $((0x100000 - ${#DISK_PATTERN})) /dev/zero; } > "$work/inner/disk.img"
  cat > "$work/e2e.conf" <<EOF
cpus=$inner_cpus
budget=$((timeout_s - 120))
cases="$cases"
base_cmdline="${inner_cmdline:-console=ttyS0 panic=-1 quiet}"
marker="$MARKER"
prompt="$SHUTDOWN_PROMPT"
tap="$TAP_NAME"
EOF
  cat > "$work/init" <<'EOF'
#!/bin/sh
export PATH=/bin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
. /e2e.conf
for m in irqbypass kvm kvm-amd tun; do insmod /modules/$m.ko || echo "AXVISOR-KVM-E2E: insmod $m failed"; done
ls -l /dev/kvm
cd /axvisor
# One inner VM per case: a fresh copy of the disk image, the case name for the inner init after "--".
for case_name in $cases; do
  extra=""
  expect=poweroff
  request=""
  case "$case_name" in
    reboot) extra="reboot=k"; expect=reset ;;
    # The command line a Linux guest needed here before the i8042 answered AUX probes (the stock one is as fast now).
    tuned) extra="i8042.noaux i8042.nomux pci=off" ;;
    ctrlaltdel) expect=reset; request=yes ;;
    powerbutton) request=yes ;;
  esac
  cp /inner/disk.img /tmp/disk.img
  echo "AXVISOR-KVM-E2E-CASE $case_name"
  set -- --kernel /inner/vmlinuz --initrd /inner/initrd.cpio.gz --cpus "$cpus" --mem 256 --marker "$marker" \
    --timeout "$budget" --cmdline "$base_cmdline $extra -- $case_name" --expect "$expect" --disk /tmp/disk.img --rng --hvc
  [ -n "$request" ] && set -- "$@" --shutdown-request-on "$prompt"
  if [ "$case_name" = poweroff ]; then
    # The VMM creates the TAP (as root); give it its address and bring it up as soon as it exists.
    set -- "$@" --tap "$tap"
    ( i=0; while [ ! -d /sys/class/net/$tap ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
      ip addr add 10.0.2.2/24 dev $tap && ip link set $tap up ) &
  fi
  /bin/bun scripts/e2e/kvm-linux-boot.ts "$@"
  status=$?
  if dd if=/tmp/disk.img bs=512 skip=1 count=1 2>/dev/null | grep -q "AXVISOR-E2E-DISK-WRITTEN-$case_name"; then
    echo "AXVISOR-KVM-E2E-DISK $case_name written"
  fi
  echo "AXVISOR-KVM-E2E-RESULT $case_name $status"
done
poweroff -f
EOF
  chmod +x "$work/init"
  (cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUTER"
fi
echo "   kernel $VMLINUZ"
echo "   outer initramfs $OUTER ($(du -h "$OUTER" | cut -f1))"

if [[ $build_only -eq 1 ]]; then
  echo "PASS kvm-linux build"
  echo "1 passed, 0 failed"
  counted=1
  exit 0
fi

LOG="$CACHE/run.log"
echo "== booting (TCG, nested KVM; budget ${timeout_s}s; log $LOG)"
started=$(date +%s)
set +e
timeout "$timeout_s" qemu-system-x86_64 -M pc -cpu max -smp 1 -m 2048 -nodefaults -no-user-config -nographic \
  -serial stdio -kernel "$VMLINUZ" -initrd "$OUTER" -append "console=ttyS0 quiet panic=-1" -no-reboot </dev/null >"$LOG" 2>&1
qemu_status=$?
set -e
elapsed=$(( $(date +%s) - started ))
tail -n 40 "$LOG"
# Per case: the driver passed (the marker with every vCPU up, the stop it expects), saw no ACPI errors, read
# the rng and the disk, wrote the disk (checked on the image), and the virtio-console line came out.
passed=0
failed=0
for case_name in $cases; do
  section="$(tr -d '\r' <"$LOG" | sed 's/\x1b\[[0-9;]*m//g' | awk -v c="$case_name" 'match($0, /AXVISOR-KVM-E2E-CASE [a-z]+/) { on = (substr($0, RSTART + 21, RLENGTH - 21) == c) } on')"
  problems=()
  grep -q "AXVISOR-KVM-E2E-RESULT $case_name 0" <<<"$section" || problems+=("the driver failed")
  grep -q "$MARKER" <<<"$section" || problems+=("no init marker")
  grep -q "acpi-errors none" <<<"$section" || problems+=("ACPI errors in the kernel log")
  grep -qE "hwrng 16 bytes from virtio_rng" <<<"$section" || problems+=("no /dev/hwrng data from virtio-rng")
  grep -q "disk read ok" <<<"$section" || problems+=("disk read")
  # The board's debug line per virtio window: this KVM has ioeventfd and irqfd, so the fast paths must be on.
  grep -q "notifications on ioeventfd, interrupt on irqfd" <<<"$section" || problems+=("virtio without ioeventfd/irqfd")
  if [[ $case_name == poweroff ]]; then grep -q "net ping ok" <<<"$section" || problems+=("virtio-net ping over the TAP"); fi
  grep -q "AXVISOR-KVM-E2E-DISK $case_name written" <<<"$section" || problems+=("disk write not in the image")
  grep -q "hvc0 says hello" <<<"$section" || problems+=("no virtio-console output")
  case "$case_name" in
    ctrlaltdel) grep -q "shutdown request: sent Ctrl-Alt-Del" <<<"$section" || problems+=("Ctrl-Alt-Del not sent") ;;
    powerbutton)
      grep -q "shutdown request: sent the ACPI power button" <<<"$section" || problems+=("power button not pressed")
      grep -qE "sci interrupts [1-9]" <<<"$section" || problems+=("no SCI seen by the guest")
      ;;
  esac
  timing="$(grep -o "PASS: marker .*" <<<"$section" | head -n 1 || true)"
  if [[ ${#problems[@]} -eq 0 ]]; then
    echo "PASS kvm-linux $case_name ($inner_cpus vCPUs): ${timing#PASS: }"
    passed=$((passed + 1))
  else
    printf 'FAIL kvm-linux %s (%s vCPUs): %s\n' "$case_name" "$inner_cpus" "$(printf '%s; ' "${problems[@]}")"
    failed=$((failed + 1))
  fi
done
# Stock against tuned command line, printed (a measurement, not a pass/fail line): the kernel's own uptime at init
# per case (the guest's boot alone; wall time from the VMM's start swings with the host's load). ctrlaltdel has the
# tuned case's devices; poweroff also probes its virtio-net before the marker.
uptimes=""
for case_name in $cases; do
  up="$(tr -d '\r' <"$LOG" | grep -o "init reached ([^)]*mode $case_name, uptime [0-9.]* s" | grep -o "[0-9.]* s$" | head -n 1)"
  [[ -n $up ]] && uptimes+="${uptimes:+, }$case_name $up"
done
[[ " $cases " == *" tuned "* ]] && echo "kvm-linux: guest uptime at init (tuned: i8042.noaux i8042.nomux pci=off; the rest stock): $uptimes"
echo "kvm-linux: qemu exit $qemu_status after ${elapsed}s (outer boot + every case); log $LOG"
counted=1
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
