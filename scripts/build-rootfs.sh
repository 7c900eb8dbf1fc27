#!/usr/bin/env bash
# Build a Debian bookworm root filesystem as an ext4 disk image for a VM's virtio-blk root (root=/dev/vda).
#
#   scripts/build-rootfs.sh [--arch amd64|arm64] [--size-mib N] [--mirror URL]
#
# What is in it: debootstrap's `minbase` variant (dpkg, apt, bash, coreutils, util-linux: fstrim and blkdiscard are
# there) plus systemd-sysv (systemd as /sbin/init, `poweroff`, a serial getty on the kernel's console) and
# iproute2/procps for a usable shell. No kernel: the VM's kernel comes from the config (kernel_path). Root has no
# password (a test image: log in as root on the serial console), /etc/fstab mounts /dev/vda on /.
#
# amd64 runs debootstrap natively. arm64 runs `debootstrap --foreign --arch arm64` and then its second stage in a
# chroot through qemu-aarch64-static (Debian's qemu-user-static; its binfmt_misc entry is registered here when the
# host has none, which needs root and /proc/sys/fs/binfmt_misc).
#
# The image is sparse (`mke2fs -d` copies the tree, the rest of the file is holes) and is cached outside the clone
# (scripts/lib/cache.sh: $AXVISOR_CACHE/rootfs, .cache/rootfs links to it), keyed by this script's text, the arch,
# the size and the mirror: a second run prints the cached path at once. Needs root (debootstrap chroots), and
# Debian's debootstrap and e2fsprogs (installed with apt-get when missing).
#
# The last line printed is the image's path. Exit status non-zero with a message saying which step failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/cache.sh
source "$ROOT/scripts/lib/cache.sh"

arch=amd64
size_mib=1024
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite=bookworm
packages="systemd-sysv,iproute2,procps"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --arch) shift; arch="${1:?--arch needs amd64 or arm64}" ;;
    --size-mib) shift; size_mib="${1:?--size-mib needs a number}" ;;
    --mirror) shift; mirror="${1:?--mirror needs a URL}" ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-rootfs: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$arch" in amd64|arm64) ;; *) echo "build-rootfs: --arch $arch: only amd64 and arm64 are built" >&2; exit 2 ;; esac
[[ $size_mib =~ ^[0-9]+$ && $size_mib -ge 256 ]] || { echo "build-rootfs: --size-mib $size_mib: need a whole number of MiB, at least 256" >&2; exit 2; }

die() { echo "build-rootfs ($arch): $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap unpacks as root and chroots)"

CACHE="$(cache_dir "$ROOT" rootfs)"
key="$( (cat "${BASH_SOURCE[0]}"; echo "$arch $size_mib $mirror $suite $packages") | sha256sum | cut -c1-16)"
IMAGE="$CACHE/debian-$suite-$arch-$key.ext4"
if [[ -f $IMAGE ]]; then
  echo "   cached: $IMAGE ($(du -h "$IMAGE" | cut -f1) allocated of ${size_mib} MiB)"
  echo "$IMAGE"
  exit 0
fi

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mke2fs >/dev/null || need+=(e2fsprogs)
host_arch="$(dpkg --print-architecture)"
if [[ $arch != "$host_arch" ]] && ! command -v "qemu-aarch64-static" >/dev/null; then need+=(qemu-user-static); fi
if [[ ${#need[@]} -gt 0 ]]; then
  echo "== apt-get install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; } \
    || die "apt-get install ${need[*]} failed"
fi

work="$(mktemp -d "$CACHE/build-$arch.XXXXXX")"
tree="$work/tree"
cleanup() {
  # Nothing may stay mounted inside the tree before it is removed.
  for m in proc sys dev/pts dev; do mountpoint -q "$tree/$m" 2>/dev/null && umount -l "$tree/$m"; done
  rm -rf "$work"
}
trap cleanup EXIT

# The arm64 second stage runs arm64 binaries in a chroot: the kernel needs a binfmt_misc entry for them. Debian's
# entry has the F flag (the interpreter is opened at registration), so the chroot needs no copy of qemu.
register_binfmt() {
  local entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
  [[ -e $entry ]] && grep -q enabled "$entry" && return 0
  [[ -e /proc/sys/fs/binfmt_misc/register ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
    || die "cannot mount binfmt_misc (needed to run arm64 binaries through qemu-aarch64-static)"
  local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
  [[ -f $conf ]] || die "$conf is missing (Debian's qemu-user-static provides it)"
  [[ -e $entry ]] || cat "$conf" > /proc/sys/fs/binfmt_misc/register || die "cannot register $conf with binfmt_misc"
  echo 1 > "$entry"
}

started=$SECONDS
echo "== debootstrap $suite $arch (minbase + $packages) from $mirror"
if [[ $arch == "$host_arch" ]]; then
  debootstrap --variant=minbase --arch "$arch" --include="$packages" "$suite" "$tree" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
else
  [[ $arch == arm64 ]] || die "no foreign-arch recipe for $arch"
  register_binfmt
  debootstrap --foreign --variant=minbase --arch "$arch" --include="$packages" "$suite" "$tree" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap --foreign failed (log above)"; }
  echo "== debootstrap --second-stage under qemu-aarch64-static"
  chroot "$tree" /debootstrap/debootstrap --second-stage >>"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap --second-stage failed (log above)"; }
fi
echo "   debootstrap took $((SECONDS - started)) s"

echo "== configuring"
echo axvisor-guest > "$tree/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 axvisor-guest\n' > "$tree/etc/hosts"
printf '# <device> <mount point> <type> <options> <dump> <pass>\n/dev/vda / ext4 rw,relatime,errors=remount-ro 0 1\n' > "$tree/etc/fstab"
# A test image: root logs in on the serial console without a password.
chroot "$tree" passwd -d root >/dev/null
# Nothing to fetch later: drop the package lists and downloaded debs (apt-get update brings the lists back).
rm -rf "$tree"/var/lib/apt/lists/* "$tree"/var/cache/apt/archives/*.deb "$tree"/var/log/*.log
# The image must not inherit the host's resolver or machine id.
: > "$tree/etc/machine-id"
rm -f "$tree/var/lib/dbus/machine-id"

echo "== mke2fs -t ext4 -d (${size_mib} MiB, sparse)"
truncate -s "${size_mib}M" "$work/image.ext4"
mke2fs -q -t ext4 -L debian-root -d "$tree" "$work/image.ext4" \
  || die "mke2fs -d failed"
mv "$work/image.ext4" "$IMAGE"
# Older images of this arch (other keys) are only cache.
find "$CACHE" -maxdepth 1 -name "debian-$suite-$arch-*.ext4" ! -name "$(basename "$IMAGE")" -delete
echo "   built in $((SECONDS - started)) s: $IMAGE ($(du -h "$IMAGE" | cut -f1) allocated of ${size_mib} MiB)"
echo "$IMAGE"
