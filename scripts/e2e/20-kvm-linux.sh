#!/usr/bin/env bash
# ci-timeout-seconds: 1500
# End-to-end: boot Debian's x86_64 cloud kernel with a busybox initramfs on OUR KVM backend, nested:
#
#   host ── qemu-system-x86_64 (TCG, -cpu max: emulated AMD SVM) ── Debian cloud kernel + kvm-amd
#            └─ /dev/kvm (a real, hardware-style KVM) ── Bun + scripts/e2e/kvm-linux-boot.ts (our VMM: a VM config,
#               the x86 PC machine, the KVM backend) ── the same Debian kernel + a busybox init
#
# The inner init prints "AXVISOR-KVM-E2E: init reached", lets the (interrupt-driven) serial output drain for a
# second, and reboots (`reboot -f` with `reboot=k`: the i8042
# reset pulse), which our driver turns into a clean stop. The outer init prints "AXVISOR-KVM-E2E-RESULT <status>"
# and powers off. (This host's own /dev/kvm is PVM, which emulates ring-0 code far too slowly to boot Linux.)
#
# Pieces are downloaded (apt-get download: linux-image-*-cloud-amd64, busybox-static) and built once under
# $AXVISOR_CACHE/kvm-linux (outside the clone, see scripts/lib/cache.sh; .cache/kvm-linux links to it); the outer
# initramfs is rebuilt when our sources change. The VMM's npm dependencies come from the clone's node_modules
# (installed with `bun install --frozen-lockfile` when missing).
#
# Usage: scripts/e2e/20-kvm-linux.sh [--build-only] [--timeout SECONDS] [--cpus N] [--inner-cmdline "..."]
# (--inner-cmdline replaces the inner kernel's command line, e.g. without "quiet" to see its boot log.)
# Ends with "N passed, N failed"; exit status 0 only if the inner boot passed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../lib/cache.sh
source "$ROOT/scripts/lib/cache.sh"
MARKER="AXVISOR-KVM-E2E: init reached"
build_only=0
timeout_s="${AXVISOR_E2E_TIMEOUT:-3600}"
inner_cpus=1
inner_cmdline=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-only) build_only=1 ;;
    --timeout) shift; timeout_s="${1:?--timeout needs seconds}" ;;
    --cpus) shift; inner_cpus="${1:?--cpus needs a count}" ;;
    --inner-cmdline) shift; inner_cmdline="${1:?--inner-cmdline needs a value}" ;;
    -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kvm-linux e2e: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
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

# One module file, decompressed if the package ships it compressed.
module() {
  local found
  found="$(find "$MODDIR" -name "$1.ko*" | head -1)"
  [[ -n $found ]] || fail "module $1 not found under $MODDIR"
  case "$found" in
    *.xz) xz -dc "$found" ;;
    *.zst) zstd -dc "$found" ;;
    *) cat "$found" ;;
  esac
}

# A busybox root: /bin/busybox plus the applets the init scripts use.
busybox_root() {
  local dir="$1"
  mkdir -p "$dir"/{bin,dev,proc,sys,tmp,root}
  cp "$CACHE/busybox/bin/busybox" "$dir/bin/busybox"
  for applet in sh mount echo cat grep insmod reboot poweroff sleep uname ls mkdir; do ln -sf busybox "$dir/bin/$applet"; done
}

# --- the inner guest: the same kernel, a busybox init that prints the marker and resets ---------------------------
INNER_INIT='#!/bin/sh
/bin/busybox mount -t proc proc /proc
echo "'"$MARKER"' (kernel $(/bin/busybox uname -r), cpus $(/bin/busybox grep -c ^processor /proc/cpuinfo))"
/bin/busybox sleep 1
/bin/busybox reboot -f'
INNER="$CACHE/inner-initrd-$(printf '%s' "$INNER_INIT" | sha256sum | cut -c1-16).cpio.gz"
if [[ ! -f $INNER ]]; then
  echo "== building the inner initramfs"
  rm -f "$CACHE"/inner-initrd-*.cpio.gz
  work="$(mktemp -d)"
  temps+=("$work")
  busybox_root "$work"
  printf '%s\n' "$INNER_INIT" > "$work/init"
  chmod +x "$work/init"
  (cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) > "$INNER"
fi

# --- the outer guest: kvm-amd, Bun and our sources -------------------------------------------------------------------
sources_hash="$( (cd "$ROOT" && cat package.json tsconfig.json $(find src scripts/e2e -name '*.ts' -not -name '*.test.ts' | sort); cat "$INNER"; echo "$inner_cpus $timeout_s $inner_cmdline") | sha256sum | cut -c1-16)"
OUTER="$CACHE/outer-initrd-$sources_hash.cpio.gz"
if [[ ! -f $OUTER ]]; then
  echo "== building the outer initramfs (Bun + our sources)"
  rm -f "$CACHE"/outer-initrd-*.cpio.gz
  work="$(mktemp -d)"
  temps+=("$work")
  busybox_root "$work"
  mkdir -p "$work/modules" "$work/inner" "$work/axvisor"
  for name in irqbypass kvm kvm-amd; do module "$name" > "$work/modules/$name.ko"; done
  cp "$VMLINUZ" "$work/inner/vmlinuz"
  cp "$INNER" "$work/inner/initrd.cpio.gz"
  bun_exe="$(readlink -f "$(command -v bun)")"
  cp "$bun_exe" "$work/bin/bun"
  # Bun's shared libraries, at the paths its loader expects.
  ldd "$bun_exe" | awk '/=>/ { print $3 } /ld-linux/ { print $1 }' | while read -r lib; do
    [[ -f $lib ]] || continue
    mkdir -p "$work$(dirname "$lib")"
    cp -L "$lib" "$work$lib"
  done
  mkdir -p "$work/lib64"
  [[ -f /lib64/ld-linux-x86-64.so.2 ]] && cp -L /lib64/ld-linux-x86-64.so.2 "$work/lib64/"
  # The VMM and its runtime dependencies (the CLI's citty is not needed by the driver).
  (cd "$ROOT" && tar cf - package.json tsconfig.json bunfig.toml src scripts/e2e/kvm-linux-boot.ts \
    "${NPM_DEPS[@]/#/node_modules/}") | tar xf - -C "$work/axvisor"
  cat > "$work/init" <<EOF
#!/bin/sh
export PATH=/bin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in irqbypass kvm kvm-amd; do insmod /modules/\$m.ko || echo "AXVISOR-KVM-E2E: insmod \$m failed"; done
ls -l /dev/kvm
cd /axvisor
/bin/bun scripts/e2e/kvm-linux-boot.ts --kernel /inner/vmlinuz --initrd /inner/initrd.cpio.gz --cpus $inner_cpus --mem 256 --marker "$MARKER" --timeout $((timeout_s - 120))${inner_cmdline:+ --cmdline \"$inner_cmdline\"}
echo "AXVISOR-KVM-E2E-RESULT \$?"
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
tail -n 30 "$LOG"
# The marker line can be split by the driver's own notes on the same console: check its parts separately.
if grep -q "AXVISOR-KVM-E2E-RESULT 0" "$LOG" && grep -q "$MARKER" "$LOG" && grep -q "cpus $inner_cpus)" "$LOG"; then
  echo "PASS kvm-linux: the inner Linux ($inner_cpus vCPUs) reached its init on our KVM backend and reset cleanly (${elapsed}s)"
  echo "1 passed, 0 failed"
  counted=1
  exit 0
fi
fail "no success marker (qemu exit $qemu_status after ${elapsed}s); see $LOG"
