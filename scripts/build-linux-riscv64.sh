#!/usr/bin/env bash
# Build the riscv64 Linux test guest: a kernel `Image` from Debian's linux-source-6.1 (tinyconfig + our fragment
# scripts/linux/riscv64.config) with an embedded initramfs holding our static /init (test/guests/linux-init/init.c).
#
# Output: $AXVISOR_CACHE/linux-riscv64/<key>/Image (outside the clone, see scripts/lib/cache.sh; .cache/linux-riscv64
# in the clone links to it), where <key> hashes every input (source package version, compiler and
# C library versions, the config fragment, init.c, this script and its helpers under scripts/linux/), and the link
# .cache/linux-riscv64/current -> <key> that configs/linux-riscv64*.toml use. A cached Image is reused; the path
# of the Image is the only thing printed on stdout (progress goes to stderr, the full build output to
# <key>/build.log). Measured on this 2-core machine (-j2): 135 s for a fresh build when idle, 232 s and 398 s
# while the rest of the team was compiling and testing (load 3-4.5); unpacking the source once per source version
# adds about 20 s.
#
# Usage: scripts/build-linux-riscv64.sh [--cached] [--key] [-j N]
#   --cached   print the Image path if it is already built, else exit 3 without building
#   --key      print the cache key and exit
#   -j N       parallel make jobs (default: the number of online CPUs); the build runs under `nice`
#
# Needs: gcc-riscv64-linux-gnu, libc6-dev-riscv64-cross, linux-source-6.1, make, flex, bison, bc, perl, xz.
# Missing Debian packages are installed with apt-get when running as root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/cache.sh
source "$ROOT/scripts/lib/cache.sh"
CACHE_ROOT="$(cache_dir "$ROOT" linux-riscv64)"
SOURCE_PACKAGE="linux-source-6.1"
SOURCE_TARBALL="/usr/src/$SOURCE_PACKAGE.tar.xz"
FRAGMENT="$ROOT/scripts/linux/riscv64.config"
INIT_SOURCE="$ROOT/test/guests/linux-init/init.c"
CROSS_COMPILE="riscv64-linux-gnu-"
SCRIPT_PATH="$ROOT/scripts/build-linux-riscv64.sh"

mode="build"
jobs="$(nproc 2>/dev/null || echo 2)"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cached) mode="cached" ;;
    --key) mode="key" ;;
    -j) shift; jobs="${1:?-j needs a number}" ;;
    -j*) jobs="${1#-j}" ;;
    -h|--help) sed -n '2,19p' "$SCRIPT_PATH" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-linux-riscv64: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "build-linux-riscv64: $*" >&2; }
die() { log "$*"; exit 1; }

# --- tools and packages ------------------------------------------------------------------------------------------
ensure_packages() {
  local missing=()
  command -v "${CROSS_COMPILE}gcc" >/dev/null || missing+=(gcc-riscv64-linux-gnu)
  dpkg-query -W -f='${Status}' libc6-dev-riscv64-cross 2>/dev/null | grep -q "install ok installed" \
    || missing+=(libc6-dev-riscv64-cross)
  [[ -f "$SOURCE_TARBALL" ]] || missing+=("$SOURCE_PACKAGE")
  local tool
  for tool in make flex bison bc perl xz; do
    command -v "$tool" >/dev/null || missing+=("$([[ $tool == xz ]] && echo xz-utils || echo "$tool")")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    die "cannot build: missing Debian packages ${missing[*]} and not root to install them (apt-get install ${missing[*]})"
  fi
  log "installing missing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2 \
    || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2; } \
    || die "cannot build: apt-get install ${missing[*]} failed"
}

# --- the cache key -----------------------------------------------------------------------------------------------
package_version() {
  dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not-installed"
}

compute_key() {
  {
    echo "source=$SOURCE_PACKAGE $(package_version "$SOURCE_PACKAGE")"
    # Without a dpkg record (a tarball put there by hand) the tarball's size and mtime stand in for the version.
    stat -c 'tarball=%s' "$SOURCE_TARBALL" 2>/dev/null || echo "tarball=missing"
    echo "gcc=$("${CROSS_COMPILE}gcc" -dumpfullversion 2>/dev/null || echo missing)"
    echo "libc=$(package_version libc6-dev-riscv64-cross)"
    sha256sum "$FRAGMENT" "$INIT_SOURCE" | sed "s#  $ROOT/#  #"
    # This script without its comment lines: rewording a comment must not cost a 3-minute rebuild.
    echo "script=$(grep -v '^[[:space:]]*#' "$SCRIPT_PATH" | sha256sum | cut -c1-64)"
    # Config fragments and build helpers only: other files under scripts/linux/ do not shape the Image.
    find "$ROOT/scripts/linux" -type f \( -name '*.config' -o -name '*.sh' \) -print0 | sort -z | xargs -0 -r sha256sum \
      | sed "s#  $ROOT/#  #"
  } | sha256sum | cut -c1-16
}

if [[ $mode == "key" ]]; then
  compute_key
  exit 0
fi

KEY="$(compute_key)"
OUT="$CACHE_ROOT/$KEY"
IMAGE="$OUT/Image"

# configs/linux-riscv64*.toml name .cache/linux-riscv64/current/Image: point it at the Image for today's inputs.
link_current() {
  ln -sfn "$KEY" "$CACHE_ROOT/current"
}

if [[ -f "$IMAGE" ]]; then
  log "cached: $IMAGE"
  [[ $mode == "cached" ]] || link_current
  echo "$IMAGE"
  exit 0
fi
if [[ $mode == "cached" ]]; then
  log "no cached Image for key $KEY (run scripts/build-linux-riscv64.sh to build it)"
  exit 3
fi

ensure_packages
mkdir -p "$OUT"
BUILD_LOG="$OUT/build.log"
: >"$BUILD_LOG"
started=$(date +%s)

# --- kernel source: extracted once per source version, shared by every key ---------------------------------------
SRC_VERSION="$(package_version "$SOURCE_PACKAGE")"
SRC_PARENT="$CACHE_ROOT/src/$SRC_VERSION"
SRC="$SRC_PARENT/$SOURCE_PACKAGE"
if [[ ! -f "$SRC_PARENT/.extracted" ]]; then
  log "extracting $SOURCE_TARBALL (version $SRC_VERSION) into $SRC_PARENT"
  rm -rf "$SRC_PARENT"
  mkdir -p "$SRC_PARENT"
  tar -xJf "$SOURCE_TARBALL" -C "$SRC_PARENT"
  [[ -f "$SRC/Makefile" ]] || die "cannot build: $SOURCE_TARBALL did not unpack to $SRC"
  touch "$SRC_PARENT/.extracted"
fi

# --- /init and the initramfs description --------------------------------------------------------------------------
log "building /init from $INIT_SOURCE"
"${CROSS_COMPILE}gcc" -static -O2 -Wall -Wextra -Werror -o "$OUT/init" "$INIT_SOURCE"
"${CROSS_COMPILE}strip" "$OUT/init"

# gen_init_cpio list format (usr/gen_init_cpio.c): the kernel packs this itself, so no root is needed for the
# device node. /dev/console must exist before /init runs or the kernel has no stdin/stdout to hand it.
cat >"$OUT/initramfs.list" <<EOF
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0555 0 0
dir /sys 0555 0 0
dir /root 0700 0 0
file /init $OUT/init 0755 0 0
EOF

# --- configure ---------------------------------------------------------------------------------------------------
BUILD="$OUT/build"
mkdir -p "$BUILD"
kmake() {
  nice -n 10 make -C "$SRC" O="$BUILD" ARCH=riscv CROSS_COMPILE="$CROSS_COMPILE" "$@" >>"$BUILD_LOG" 2>&1 \
    || { tail -n 40 "$BUILD_LOG" >&2; die "make $* failed (full log: $BUILD_LOG)"; }
}

log "configuring: tinyconfig + $(basename "$FRAGMENT")"
kmake tinyconfig
printf 'CONFIG_INITRAMFS_SOURCE="%s"\n' "$OUT/initramfs.list" >"$OUT/initramfs.config"
(
  cd "$BUILD"
  ARCH=riscv CROSS_COMPILE="$CROSS_COMPILE" "$SRC/scripts/kconfig/merge_config.sh" -m -O "$BUILD" \
    "$BUILD/.config" "$FRAGMENT" "$OUT/initramfs.config" >>"$BUILD_LOG" 2>&1
) || die "merging $FRAGMENT into the tinyconfig failed (full log: $BUILD_LOG)"
kmake olddefconfig

# Kconfig drops options whose dependencies are unmet without an error; check every requested value survived.
dropped=()
while IFS= read -r line; do
  if [[ $line =~ ^CONFIG_[A-Z0-9_]+= ]]; then
    grep -qxF "$line" "$BUILD/.config" || dropped+=("$line")
  elif [[ $line =~ ^#\ (CONFIG_[A-Z0-9_]+)\ is\ not\ set$ ]]; then
    # "not set" survives as the same comment, or as no line at all when the option is not visible.
    ! grep -q "^${BASH_REMATCH[1]}=" "$BUILD/.config" || dropped+=("$line")
  fi
done < <(cat "$FRAGMENT" "$OUT/initramfs.config")
if [[ ${#dropped[@]} -gt 0 ]]; then
  die "configuring failed: Kconfig did not keep ${dropped[*]} (unmet dependencies? see $BUILD/.config)"
fi

# --- build -------------------------------------------------------------------------------------------------------
log "building Image with -j$jobs (log: $BUILD_LOG)"
kmake -j"$jobs" Image
cp "$BUILD/.config" "$OUT/config"
cp "$BUILD/arch/riscv/boot/Image" "$OUT/Image.tmp"
elapsed=$(( $(date +%s) - started ))
{
  echo "key=$KEY"
  echo "source=$SOURCE_PACKAGE $SRC_VERSION"
  echo "gcc=$("${CROSS_COMPILE}gcc" -dumpfullversion)"
  echo "jobs=$jobs"
  echo "build_seconds=$elapsed"
  echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$OUT/build-info.txt"
# The Image appears last and atomically: its presence is what marks the cache entry complete.
mv "$OUT/Image.tmp" "$IMAGE"
link_current
log "built in ${elapsed}s: $IMAGE ($(stat -c %s "$IMAGE") bytes)"
echo "$IMAGE"
