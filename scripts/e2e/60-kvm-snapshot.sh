#!/usr/bin/env bash
# ci-timeout-seconds: 1200
# End-to-end: KVM x86 snapshots on a real (nested) KVM. The outer guest is the one of 20-kvm-linux.sh (Debian's
# cloud kernel under qemu-system-x86_64 TCG with -cpu max: an emulated AMD SVM, kvm-amd loaded); inside it, Bun runs
# test/kvm/x86-snapshot.test.ts on /dev/kvm: an x86 VM paused and saved (registers, special registers, XSAVE, XCRs,
# LAPIC, MSRs, events, MP state; kvmclock, PICs, IOAPIC, PIT), loaded into a VM built afresh and resumed, which must
# print its greeting and exit 0; then the control-API sequence on KVM (scripts/e2e/kvm-snapshot-api.ts: the x86
# counter guest paused, snapshotted and stopped through `run --api-sock`, loaded and resumed by a new `serve`
# process, its output going on without gap or repeat); then `bench/snapshot.ts kvm-only` prints the 256 MiB KVM
# VM's snapshot numbers.
#
# It reuses the kernel and busybox that 20-kvm-linux.sh downloads into $AXVISOR_CACHE/kvm-linux (run that script,
# or `scripts/e2e/20-kvm-linux.sh --build-only`, once first); its own outer initramfs goes to
# $AXVISOR_CACHE/kvm-snapshot, rebuilt when our sources change.
#
# Usage: scripts/e2e/60-kvm-snapshot.sh [--timeout SECONDS]
# Ends with "N passed, N failed"; exit status 0 only if the test passed inside the nested guest.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../lib/cache.sh
source "$ROOT/scripts/lib/cache.sh"
# shellcheck source=../lib/initramfs.sh
source "$ROOT/scripts/lib/initramfs.sh"
timeout_s="${AXVISOR_E2E_TIMEOUT:-1200}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --timeout) shift; timeout_s="${1:?--timeout needs seconds}" ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kvm-snapshot e2e: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

counted=""
fail() {
  echo "FAIL kvm-snapshot: $*"
  echo "0 passed, 1 failed"
  counted=1
  exit 1
}
temps=()
on_exit() {
  local status=$?
  [[ ${#temps[@]} -gt 0 ]] && rm -rf "${temps[@]}"
  if [[ -z $counted ]]; then
    echo "FAIL kvm-snapshot: stopped early (exit $status)"
    echo "0 passed, 1 failed"
  fi
}
trap on_exit EXIT

for tool in qemu-system-x86_64 cpio gzip bun ldd; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
LINUX_CACHE="$(cache_dir "$ROOT" kvm-linux)"
CACHE="$(cache_dir "$ROOT" kvm-snapshot)"
VMLINUZ="$(ls "$LINUX_CACHE"/kernel/boot/vmlinuz-* 2>/dev/null | head -1 || true)"
[[ -n $VMLINUZ && -x $LINUX_CACHE/busybox/bin/busybox ]] ||
  fail "no kernel/busybox in $LINUX_CACHE: run scripts/e2e/20-kvm-linux.sh --build-only first"
MODDIR="$(ls -d "$LINUX_CACHE"/kernel/lib/modules/* | head -1)/kernel"
NPM_DEPS=(consola smol-toml zod citty)

# One module file, decompressed (scripts/lib/initramfs.sh).
module() { kernel_module "$MODDIR" "$1" || fail "module $1 not found under $MODDIR"; }

TEST=test/kvm/x86-snapshot.test.ts
sources_hash="$( (cd "$ROOT" && cat package.json tsconfig.json bunfig.toml $(find src test/support -name '*.ts' | sort) "$TEST" bench/snapshot.ts scripts/e2e/kvm-snapshot-api.ts test/guests/x86/serial-hello.bin test/guests/x86/counter.bin; echo "$timeout_s") | sha256sum | cut -c1-16)"
OUTER="$CACHE/outer-initrd-$sources_hash.cpio.gz"
if [[ ! -f $OUTER ]]; then
  echo "== building the outer initramfs (Bun, our sources and the snapshot test)"
  rm -f "$CACHE"/outer-initrd-*.cpio.gz
  work="$(mktemp -d)"
  temps+=("$work")
  mkdir -p "$work"/{bin,dev,proc,sys,tmp,root,modules,axvisor}
  cp "$LINUX_CACHE/busybox/bin/busybox" "$work/bin/busybox"
  for applet in sh mount echo insmod poweroff ls mkdir cat; do ln -sf busybox "$work/bin/$applet"; done
  for name in irqbypass kvm kvm-amd; do module "$name" > "$work/modules/$name.ko"; done
  bun_exe="$(readlink -f "$(command -v bun)")"
  initramfs_add_host_bun "$work" "$bun_exe"
  (cd "$ROOT" && tar cf - package.json tsconfig.json bunfig.toml src configs test/support "$TEST" bench/snapshot.ts \
    scripts/e2e/kvm-snapshot-api.ts test/guests/x86/serial-hello.bin test/guests/x86/counter.bin "${NPM_DEPS[@]/#/node_modules/}") | tar xf - -C "$work/axvisor"
  cat > "$work/init" <<'EOF'
#!/bin/sh
export PATH=/bin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
for m in irqbypass kvm kvm-amd; do insmod /modules/$m.ko || echo "AXVISOR-SNAP-E2E: insmod $m failed"; done
ls -l /dev/kvm
cd /axvisor
/bin/bun test --timeout 600000 test/kvm/x86-snapshot.test.ts
echo "AXVISOR-SNAP-E2E-RESULT $?"
/bin/bun scripts/e2e/kvm-snapshot-api.ts
echo "AXVISOR-SNAP-API-RESULT $?"
/bin/bun bench/snapshot.ts 1 kvm-only
poweroff -f
EOF
  chmod +x "$work/init"
  (cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUTER"
fi

LOG="$CACHE/run.log"
echo "== booting (TCG, nested KVM; budget ${timeout_s}s; log $LOG)"
started=$(date +%s)
set +e
timeout "$timeout_s" qemu-system-x86_64 -M pc -cpu max -smp 1 -m 2048 -nodefaults -no-user-config -nographic \
  -serial stdio -kernel "$VMLINUZ" -initrd "$OUTER" -append "console=ttyS0 quiet panic=-1" -no-reboot </dev/null >"$LOG" 2>&1
qemu_status=$?
set -e
tail -n 20 "$LOG" | sed 's/\x1b\[[0-9;]*m//g' 
echo "kvm-snapshot: qemu exit $qemu_status after $(( $(date +%s) - started ))s; log $LOG"
counted=1
clean="$(tr -d '\r' <"$LOG" | sed 's/\x1b\[[0-9;]*m//g')"
passed=0
failed=0
if grep -q "AXVISOR-SNAP-E2E-RESULT 0" <<<"$clean" && grep -qE "^ *1 pass" <<<"$clean"; then
  echo "PASS kvm-snapshot: an x86 VM saved and restored on nested KVM ran to its greeting and exit 0"
  passed=$((passed + 1))
else
  echo "FAIL kvm-snapshot: the snapshot test failed; see $LOG"
  failed=$((failed + 1))
fi
if grep -q "AXVISOR-SNAP-API-RESULT 0" <<<"$clean"; then
  echo "PASS kvm-snapshot-api: $(grep -o "AXVISOR-SNAP-API: PASS.*" <<<"$clean" | head -1)"
  passed=$((passed + 1))
else
  echo "FAIL kvm-snapshot-api: $(grep -o "AXVISOR-SNAP-API: FAIL.*" <<<"$clean" | head -1)"
  failed=$((failed + 1))
fi
grep "kvm x86 256 MiB" <<<"$clean" || true
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
