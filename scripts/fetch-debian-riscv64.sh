#!/usr/bin/env bash
# Fetch Debian's own riscv64 kernel (trixie, linux-image-riscv64, 6.12) and build the initramfs our end-to-end tests
# boot it with: our static /init (test/guests/linux-init/init.c) and the modules it loads (Debian builds the
# virtio-mmio transport, virtio-rng and virtio-net, with the failover modules virtio-net needs, as modules).
#
# Debian 12 (this machine's release) has no riscv64 port; trixie has, and the same mirror serves it. A private apt
# state under the cache keeps the host's own sources untouched (../shared/notes/riscv-guests.md).
#
# Output (outside the clone, see scripts/lib/cache.sh): $AXVISOR_CACHE/debian-riscv64/<key>/{Image,initramfs.cpio},
# <key> hashing the kernel package version, init.c, the compiler and this script; the link
# .cache/debian-riscv64/current -> <key> is what configs/linux-riscv64-debian.toml names. Prints the entry's folder on
# stdout (progress on stderr). Without network, the last entry built is reused (with a warning).
#
# Usage: scripts/fetch-debian-riscv64.sh
# Needs: apt-get, dpkg-deb, xz, gcc-riscv64-linux-gnu + libc6-dev-riscv64-cross, bun.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/cache.sh
source "$ROOT/scripts/lib/cache.sh"
CACHE="$(cache_dir "$ROOT" debian-riscv64)"
INIT_SOURCE="$ROOT/test/guests/linux-init/init.c"
SCRIPT_PATH="$ROOT/scripts/fetch-debian-riscv64.sh"
CROSS_COMPILE="riscv64-linux-gnu-"
# Loaded by /init in this order: the transport first, so the devices exist when their drivers register; virtio_net
# needs net_failover, which needs failover.
MODULES=(virtio_mmio virtio-rng failover net_failover virtio_net)

log() { echo "fetch-debian-riscv64: $*" >&2; }
die() { log "$*"; exit 1; }

for tool in apt-get dpkg-deb xz bun "${CROSS_COMPILE}gcc"; do
  command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install apt dpkg xz-utils gcc-riscv64-linux-gnu libc6-dev-riscv64-cross; bun from npm)"
done

# --- a private apt state for trixie/riscv64 ------------------------------------------------------------------------
mirror() {
  local uri
  uri="$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/\{0,1\} *$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
  [[ -n $uri ]] || uri="$(sed -n 's/^deb  *\(http[^ ]*\/debian\)\/\{0,1\}  *.*/\1/p' /etc/apt/sources.list 2>/dev/null | head -1)"
  echo "${uri:-http://deb.debian.org/debian}"
}
APT_DIR="$CACHE/apt"
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/debs"
echo "deb [arch=riscv64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(mirror) trixie main" >"$APT_DIR/sources.list"
APT=(-o "Dir::Etc::SourceList=$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$APT_DIR/lists" -o "APT::Architectures::=riscv64" -o Debug::NoLocking=1)

reuse_current() {
  if [[ -f "$CACHE/current/Image" && -f "$CACHE/current/initramfs.cpio" ]]; then
    log "warning: $1; reusing the last build, $(readlink "$CACHE/current")"
    echo "$CACHE/current"
    exit 0
  fi
  die "$1, and nothing is cached yet"
}

# Refresh the package lists at most once a day.
if [[ -z "$(find "$APT_DIR/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]]; then
  log "apt-get update (trixie, riscv64)"
  apt-get "${APT[@]}" update >"$APT_DIR/update.log" 2>&1 || reuse_current "apt-get update failed (see $APT_DIR/update.log)"
fi
kernel_pkg="$(apt-cache "${APT[@]}" depends linux-image-riscv64:riscv64 2>/dev/null \
  | sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*-riscv64\)\(:riscv64\)\{0,1\}$/\1/p' | head -1)"
[[ -n $kernel_pkg ]] || reuse_current "cannot resolve linux-image-riscv64 for trixie"

KEY="$({
  echo "kernel=$kernel_pkg"
  sha256sum "$INIT_SOURCE" | cut -c1-64
  echo "gcc=$("${CROSS_COMPILE}gcc" -dumpfullversion)"
  echo "libc=$(dpkg-query -W -f='${Version}' libc6-dev-riscv64-cross 2>/dev/null || echo unknown)"
  grep -v '^[[:space:]]*#' "$SCRIPT_PATH" | sha256sum | cut -c1-64
  sha256sum "$ROOT/scripts/linux/initramfs.ts" | cut -c1-64
} | sha256sum | cut -c1-16)"
OUT="$CACHE/$KEY"
if [[ -f "$OUT/Image" && -f "$OUT/initramfs.cpio" ]]; then
  ln -sfn "$KEY" "$CACHE/current"
  log "cached: $OUT ($kernel_pkg)"
  echo "$OUT"
  exit 0
fi

# --- kernel and modules ----------------------------------------------------------------------------------------------
deb="$(ls "$APT_DIR/debs/${kernel_pkg}"_*.deb 2>/dev/null | head -1 || true)"
if [[ -z $deb ]]; then
  log "downloading $kernel_pkg"
  (cd "$APT_DIR/debs" && apt-get "${APT[@]}" download "$kernel_pkg:riscv64" >"$APT_DIR/download.log" 2>&1) \
    || reuse_current "apt-get download $kernel_pkg failed (see $APT_DIR/download.log)"
  deb="$(ls "$APT_DIR/debs/${kernel_pkg}"_*.deb | head -1)"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/pkg"
mkdir -p "$OUT.tmp"
# boot/vmlinux-* is the riscv64 Image (with an EFI/PE header; "RSC\x05" at 0x38), not an ELF file.
cp "$(ls "$work"/pkg/boot/vmlinux-* | head -1)" "$OUT.tmp/Image"
moddir="$(ls -d "$work"/pkg/usr/lib/modules/* "$work"/pkg/lib/modules/* 2>/dev/null | head -1 || true)"
[[ -n $moddir ]] || die "no modules in $deb"
list="$OUT.tmp/initramfs.list"
{
  echo "dir /dev 0755"
  echo "nod /dev/console 0600 c 5 1"
  echo "dir /proc 0555"
  echo "dir /sys 0555"
  echo "dir /modules 0755"
} >"$list"
: >"$OUT.tmp/load-order"
for name in "${MODULES[@]}"; do
  found="$(find "$moddir" -name "$name.ko*" | head -1)"
  [[ -n $found ]] || die "module $name is not in $deb"
  case "$found" in
    *.xz) xz -dc "$found" >"$OUT.tmp/$name.ko" ;;
    *.zst) zstd -dc "$found" >"$OUT.tmp/$name.ko" ;;
    *) cp "$found" "$OUT.tmp/$name.ko" ;;
  esac
  echo "file /modules/$name.ko $OUT.tmp/$name.ko 0644" >>"$list"
  echo "$name" >>"$OUT.tmp/load-order"
done
echo "file /modules/load-order $OUT.tmp/load-order 0644" >>"$list"

# --- /init ------------------------------------------------------------------------------------------------------------
"${CROSS_COMPILE}gcc" -static -O2 -Wall -Wextra -Werror -o "$OUT.tmp/init" "$INIT_SOURCE"
"${CROSS_COMPILE}strip" "$OUT.tmp/init"
echo "file /init $OUT.tmp/init 0755" >>"$list"
bun "$ROOT/scripts/linux/initramfs.ts" "$list" "$OUT.tmp/initramfs.cpio"
echo "$kernel_pkg" >"$OUT.tmp/kernel-package"
# Rewrite the list's host paths to the final folder, then publish the entry atomically.
sed -i "s#$OUT.tmp/#$OUT/#g" "$list"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
ln -sfn "$KEY" "$CACHE/current"
log "built $OUT ($kernel_pkg; initramfs $(stat -c %s "$OUT/initramfs.cpio") bytes)"
echo "$OUT"
