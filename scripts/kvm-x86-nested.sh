#!/usr/bin/env bash
# Run a shell command inside a nested x86 KVM: QEMU's software CPU with emulated AMD SVM boots Debian's cloud kernel,
# loads kvm-amd, and runs the command with /dev/kvm there, in a copy of this tree (../shared/notes/this-machine.md
# has the recipe; this host's own /dev/kvm, when it has one, is PVM and too slow for ring-0 guests).
#
#   scripts/kvm-x86-nested.sh [--mem MiB] [--smp N] [--disk FILE] [--timeout SECONDS] [--log FILE] -- 'command'
#
# The command runs as root in /axvisor (package.json, src, test, bench, scripts, native, configs and the npm
# dependencies; Bun and its libraries; busybox applets; `kvm-pio-bench`, native/kvm-pio-bench.c built statically
# here), with /tmp a tmpfs. --disk FILE is attached as a virtio-blk disk (/dev/vda in the outer guest, the
# virtio_pci and virtio_blk modules loaded). The output goes to stdout (and --log); the script's exit status is the
# command's (124 on timeout). The kernel and busybox are downloaded once with apt-get into $AXVISOR_CACHE/kvm-nested
# (scripts/lib/cache.sh); the image with Bun is cached, the tree's part is rebuilt on every run (seconds).
# KVM_NESTED_QEMU_ARGS adds QEMU options (e.g. "-icount shift=0": guest time counts instructions, so a benchmark's
# timings inside do not depend on the host's load).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/cache.sh
source "$ROOT/scripts/lib/cache.sh"
# shellcheck source=lib/initramfs.sh
source "$ROOT/scripts/lib/initramfs.sh"
mem=2048
smp=1
disk=""
timeout_s=1800
log=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mem) shift; mem="${1:?}" ;;
    --smp) shift; smp="${1:?}" ;;
    --disk) shift; disk="${1:?}" ;;
    --timeout) shift; timeout_s="${1:?}" ;;
    --log) shift; log="${1:?}" ;;
    --) shift; break ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kvm-x86-nested: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $# -eq 1 ]] || { echo "kvm-x86-nested: give the command as one argument after --" >&2; exit 2; }
command_text="$1"
die() { echo "kvm-x86-nested: $*" >&2; exit 2; }
for tool in qemu-system-x86_64 apt-get apt-cache dpkg-deb cpio gzip bun ldd gcc; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done

CACHE="$(cache_dir "$ROOT" kvm-nested)"
NPM_DEPS=(consola smol-toml zod citty fast-check)
mkdir -p "$CACHE/debs"
kernel_pkg="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -1)"
[[ -n $kernel_pkg ]] || die "cannot resolve linux-image-cloud-amd64 (run apt-get update)"
for pkg in "$kernel_pkg" busybox-static; do
  if ! ls "$CACHE/debs/${pkg}"_*.deb >/dev/null 2>&1; then
    echo "kvm-x86-nested: downloading $pkg" >&2
    (cd "$CACHE/debs" && apt-get download "$pkg" >/dev/null 2>&1) || die "apt-get download $pkg failed"
  fi
done
if [[ ! -d "$CACHE/kernel-$kernel_pkg/boot" ]]; then
  rm -rf "$CACHE"/kernel-* && mkdir -p "$CACHE/kernel-$kernel_pkg"
  dpkg-deb -x "$(ls "$CACHE/debs/${kernel_pkg}"_*.deb | head -1)" "$CACHE/kernel-$kernel_pkg"
fi
if [[ ! -x "$CACHE/busybox/bin/busybox" ]]; then
  rm -rf "$CACHE/busybox" && mkdir -p "$CACHE/busybox"
  dpkg-deb -x "$(ls "$CACHE"/debs/busybox-static_*.deb | head -1)" "$CACHE/busybox"
fi
VMLINUZ="$(ls "$CACHE/kernel-$kernel_pkg"/boot/vmlinuz-* | head -1)"
MODDIR="$(ls -d "$CACHE/kernel-$kernel_pkg"/lib/modules/* | head -1)/kernel"
MODULES="irqbypass kvm kvm-amd virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk"

# --- the cached part: busybox, Bun and its libraries, the modules, the C benchmark --------------------------------------
bun_exe="$(readlink -f "$(command -v bun)")"
base_key="$( (echo "$kernel_pkg $MODULES"; sha256sum "$bun_exe" "$ROOT/native/kvm-pio-bench.c" "${BASH_SOURCE[0]}") | sha256sum | cut -c1-16)"
BASE="$CACHE/base-$base_key.cpio.gz"
if [[ ! -f $BASE ]]; then
  echo "kvm-x86-nested: building the base image (Bun, busybox, modules)" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work"/{bin,dev,proc,sys,tmp,root,modules,lib64}
  cp "$CACHE/busybox/bin/busybox" "$work/bin/busybox"
  for applet in $("$work/bin/busybox" --list); do [[ -e $work/bin/$applet ]] || ln -s busybox "$work/bin/$applet"; done
  for name in $MODULES; do
    kernel_module "$MODDIR" "$name" >"$work/modules/$name.ko" || die "module $name is not in $kernel_pkg"
  done
  initramfs_add_host_bun "$work" "$bun_exe"
  gcc -static -O2 -Wall -o "$work/bin/kvm-pio-bench" "$ROOT/native/kvm-pio-bench.c" || die "cannot build native/kvm-pio-bench.c"
  cat >"$work/init" <<'EOF'
#!/bin/sh
export PATH=/bin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
for m in $(cat /modules/order); do insmod /modules/$m.ko 2>/dev/null || echo "kvm-x86-nested: insmod $m failed"; done
cd /axvisor
echo "NESTED-START"
sh /axvisor/.nested-command
echo "NESTED-STATUS $?"
sync
poweroff -f
EOF
  chmod +x "$work/init"
  echo "$MODULES" | tr ' ' '\n' >"$work/modules/order"
  (cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) >"$BASE.tmp"
  mv "$BASE.tmp" "$BASE"
  rm -rf "$work"
  trap - EXIT
fi

# --- the tree's part, every run ------------------------------------------------------------------------------------------
run_dir="$(mktemp -d)"
trap 'rm -rf "$run_dir"' EXIT
mkdir -p "$run_dir/root/axvisor"
(cd "$ROOT" && tar cf - package.json tsconfig.json bunfig.toml src test bench scripts native configs \
  "${NPM_DEPS[@]/#/node_modules/}" 2>/dev/null) | tar xf - -C "$run_dir/root/axvisor"
printf '%s\n' "$command_text" >"$run_dir/root/axvisor/.nested-command"
(cd "$run_dir/root" && find . | cpio -o -H newc --quiet | gzip -1) >"$run_dir/tree.cpio.gz"
cat "$BASE" "$run_dir/tree.cpio.gz" >"$run_dir/initrd.cpio.gz"

drive=()
[[ -n $disk ]] && drive=(-drive "file=$disk,format=raw,if=virtio,cache=unsafe")
out="${log:-$run_dir/out.log}"
status=0
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 -M pc -cpu max -smp "$smp" -m "$mem" -nodefaults -no-user-config \
  -nographic -serial stdio -kernel "$VMLINUZ" -initrd "$run_dir/initrd.cpio.gz" "${drive[@]}" \
  -append "console=ttyS0 quiet panic=-1" -no-reboot ${KVM_NESTED_QEMU_ARGS:-} </dev/null 2>&1 | tee "$out" || status=$?
[[ $status -eq 124 ]] && { echo "kvm-x86-nested: timed out after ${timeout_s}s"; exit 124; }
result="$(tr -d '\r' <"$out" | sed -n 's/^NESTED-STATUS \([0-9]*\)$/\1/p' | tail -1)"
[[ -n $result ]] || { echo "kvm-x86-nested: the command did not finish (no status line)"; exit 1; }
exit "$result"
