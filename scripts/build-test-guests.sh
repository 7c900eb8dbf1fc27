#!/usr/bin/env bash
# Build the RISC-V test guests under test/guests/ from their sources, byte-for-byte reproducibly.
#
# Programs are found by directory convention (see test/guests/README.md), so adding a program never means
# editing this script:
#   test/guests/isa/**/NAME.S        bare-metal M-mode ISA program  -> NAME.elf beside it
#                                    (linked at 0x8000_0000 with isa/common/isa.ld; `common/` dirs are skipped;
#                                    a directory may hold `guest-flags` with extra compiler flags for its programs)
#   test/guests/riscv/NAME.{S,c}     VS-mode guest for the VMM      -> NAME.elf and NAME.bin beside it
#                                    (linked at 0x8020_0000 with riscv/common/guest.ld and riscv/common/*.{S,c})
# test/guests/x86/ and test/guests/linux-init/ are built by their owners' scripts, not here.
#
# Usage: scripts/build-test-guests.sh [--out DIR] [--list]
#   --out DIR   write the outputs under DIR (same relative paths) instead of beside the sources
#   --list      print the programs that would be built and exit
# Without the cross toolchain it prints why and exits 0, leaving the committed binaries alone.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export LC_ALL=C

out_dir="."
list_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out)
      [ $# -ge 2 ] || { echo "build-test-guests: --out needs a directory" >&2; exit 2; }
      out_dir="$2"
      shift 2
      ;;
    --list) list_only=1; shift ;;
    -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "build-test-guests: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

CROSS="${RISCV_CROSS:-riscv64-unknown-elf-}"
CC="${CROSS}gcc"
AR="${CROSS}ar"
OBJCOPY="${CROSS}objcopy"

isa_dir="test/guests/isa"
vs_dir="test/guests/riscv"

isa_sources() {
  find "$isa_dir" -type d -name common -prune -o -type f -name '*.S' -print | sort
}
vs_sources() {
  find "$vs_dir" -maxdepth 1 -type f \( -name '*.S' -o -name '*.c' \) | sort
}

if [ "$list_only" = 1 ]; then
  isa_sources
  vs_sources
  exit 0
fi

for tool in "$CC" "$AR" "$OBJCOPY"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "[skip] build-test-guests: $tool not found (Debian: apt-get install gcc-riscv64-unknown-elf);" \
      "the committed binaries are left as they are"
    exit 0
  fi
done

# Flags that make the output independent of where and when it is built: no build id, no debug info (it would
# carry directory names), paths relative to the repository, deterministic archives.
common_flags=(-nostdlib -nostartfiles -static -g0 -ffile-prefix-map="$repo"=. -Wl,--build-id=none
  -Wl,--no-warn-rwx-segments)

work="$(mktemp -d "${TMPDIR:-/tmp}/build-test-guests.XXXXXX")"
trap 'rm -rf "$work"' EXIT

built=0

# --- bare-metal ISA programs ----------------------------------------------------------------------------------
isa_flags=(-march=rv64gc -mabi=lp64d -Wa,-march=rv64gch -I "$isa_dir/common" -T "$isa_dir/common/isa.ld")
while IFS= read -r src; do
  dir="$(dirname "$src")"
  name="$(basename "$src" .S)"
  extra=()
  if [ -f "$dir/guest-flags" ]; then
    read -r -a extra <"$dir/guest-flags"
  fi
  dest="$out_dir/$dir/$name.elf"
  mkdir -p "$(dirname "$dest")"
  "$CC" "${common_flags[@]}" "${isa_flags[@]}" -I "$dir" "${extra[@]}" -o "$dest" "$src"
  echo "built $dest"
  built=$((built + 1))
done < <(isa_sources)

# --- VS-mode guests ---------------------------------------------------------------------------------------------
vs_cflags=(-march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany -fno-pic -ffreestanding -fno-builtin
  -fno-stack-protector -fno-asynchronous-unwind-tables -fno-common -Os -Wall -Wextra -Werror
  -I "$vs_dir/common")
mkdir -p "$work/libguest"
lib_objs=()
while IFS= read -r src; do
  obj="$work/libguest/$(basename "$src").o"
  "$CC" "${common_flags[@]}" "${vs_cflags[@]}" -c -o "$obj" "$src"
  lib_objs+=("$obj")
done < <(find "$vs_dir/common" -maxdepth 1 -type f \( -name '*.S' -o -name '*.c' \) | sort)
if [ "${#lib_objs[@]}" -gt 0 ]; then
  "$AR" rcsD "$work/libguest.a" "${lib_objs[@]}"
fi
while IFS= read -r src; do
  name="$(basename "${src%.*}")"
  dest="$out_dir/$vs_dir/$name"
  mkdir -p "$(dirname "$dest")"
  "$CC" "${common_flags[@]}" "${vs_cflags[@]}" -T "$vs_dir/common/guest.ld" -o "$dest.elf" "$src" \
    "$work/libguest.a" -lgcc
  "$OBJCOPY" -O binary "$dest.elf" "$dest.bin"
  echo "built $dest.elf $dest.bin"
  built=$((built + 1))
done < <(vs_sources)

echo "build-test-guests: $built programs"
