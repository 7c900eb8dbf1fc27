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
# Usage: scripts/build-test-guests.sh [--out DIR] [--only PATH]... [--list]
#   --out DIR   write the outputs under DIR (same relative paths) instead of beside the sources
#   --only PATH build only the programs whose source path starts with PATH (e.g. test/guests/isa/fp); repeatable
#   --list      print the programs that would be built and exit
# Without the cross toolchain it prints why and exits 0, leaving the committed binaries alone.
set -euo pipefail

caller_dir="$PWD"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export LC_ALL=C

out_dir="$repo"
list_only=0
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out)
      [ $# -ge 2 ] || { echo "build-test-guests: --out needs a directory" >&2; exit 2; }
      case "$2" in /*) out_dir="$2" ;; *) out_dir="$caller_dir/$2" ;; esac
      shift 2
      ;;
    --only)
      [ $# -ge 2 ] || { echo "build-test-guests: --only needs a path" >&2; exit 2; }
      only+=("${2%/}")
      shift 2
      ;;
    --list) list_only=1; shift ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "build-test-guests: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

CROSS="${RISCV_CROSS:-riscv64-unknown-elf-}"
CC="${CROSS}gcc"
OBJCOPY="${CROSS}objcopy"

isa_dir="test/guests/isa"
vs_dir="test/guests/riscv"

# Keep the paths selected by --only (all when none was given).
selected() {
  local path prefix
  while IFS= read -r path; do
    if [ "${#only[@]}" -eq 0 ]; then
      echo "$path"
      continue
    fi
    for prefix in "${only[@]}"; do
      case "$path" in "$prefix" | "$prefix"/*) echo "$path"; break ;; esac
    done
  done
}
isa_sources() {
  find "$isa_dir" -type d -name common -prune -o -type f -name '*.S' -print | sort | selected
}
vs_sources() {
  find "$vs_dir" -maxdepth 1 -type f \( -name '*.S' -o -name '*.c' \) | sort | selected
}

if [ "$list_only" = 1 ]; then
  isa_sources
  vs_sources
  exit 0
fi

for tool in "$CC" "$OBJCOPY"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "[skip] build-test-guests: $tool not found (Debian: apt-get install gcc-riscv64-unknown-elf);" \
      "the committed binaries are left as they are"
    exit 0
  fi
done

# Flags that make the output independent of where and when it is built: no build id, no debug info (it would
# carry directory names), paths relative to the repository.
common_flags=(-nostdlib -nostartfiles -static -g0 -ffile-prefix-map="$repo"=. -Wl,--build-id=none
  -Wl,--no-warn-rwx-segments)

work="$(mktemp -d "${TMPDIR:-/tmp}/build-test-guests.XXXXXX")"
trap 'rm -rf "$work"' EXIT

built=0

# --- bare-metal ISA programs ----------------------------------------------------------------------------------
# Assemble, then link from inside the object directory: the linker records the object's name as a FILE symbol, so
# it must not be a random temporary name or a path that depends on where this runs.
isa_flags=(-march=rv64gc -mabi=lp64d -Wa,-march=rv64gch -I "$isa_dir/common")
mkdir -p "$work/isa"
while IFS= read -r src; do
  dir="$(dirname "$src")"
  name="$(basename "$src" .S)"
  extra=()
  if [ -f "$dir/guest-flags" ]; then
    read -r -a extra <"$dir/guest-flags"
  fi
  dest="$out_dir/$dir/$name.elf"
  mkdir -p "$(dirname "$dest")"
  "$CC" "${common_flags[@]}" "${isa_flags[@]}" -I "$dir" "${extra[@]}" -c -o "$work/isa/$name.o" "$src"
  (cd "$work/isa" && "$CC" "${common_flags[@]}" "${isa_flags[@]}" "${extra[@]}" -T "$repo/$isa_dir/common/isa.ld" \
    -o "$dest" "$name.o")
  rm -f "$work/isa/$name.o"
  echo "built ${dest#"$out_dir"/}"
  built=$((built + 1))
done < <(isa_sources)

# --- VS-mode guests ---------------------------------------------------------------------------------------------
# Each guest is linked with every object of riscv/common/ (runtime, console, traps); --gc-sections drops what a
# guest does not use. Linked from inside the object directory, for the same reason as above.
vs_cflags=(-march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany -fno-pic -ffreestanding -fno-builtin
  -fno-stack-protector -fno-asynchronous-unwind-tables -fno-common -ffunction-sections -fdata-sections -Os
  -Wall -Wextra -Werror -I "$vs_dir/common")
mkdir -p "$work/vs"
common_objs=()
while IFS= read -r src; do
  obj="common-$(basename "$src").o"
  "$CC" "${common_flags[@]}" "${vs_cflags[@]}" -c -o "$work/vs/$obj" "$src"
  common_objs+=("$obj")
done < <(find "$vs_dir/common" -maxdepth 1 -type f \( -name '*.S' -o -name '*.c' \) | sort)
while IFS= read -r src; do
  name="$(basename "${src%.*}")"
  dest="$out_dir/$vs_dir/$name"
  mkdir -p "$(dirname "$dest")"
  "$CC" "${common_flags[@]}" "${vs_cflags[@]}" -c -o "$work/vs/$name.o" "$src"
  (cd "$work/vs" && "$CC" "${common_flags[@]}" "${vs_cflags[@]}" -T "$repo/$vs_dir/common/guest.ld" \
    -Wl,--gc-sections -o "$dest.elf" "$name.o" "${common_objs[@]}" -lgcc)
  "$OBJCOPY" -O binary "$dest.elf" "$dest.bin"
  echo "built ${dest#"$out_dir"/}.elf ${dest#"$out_dir"/}.bin"
  built=$((built + 1))
done < <(vs_sources)

echo "build-test-guests: $built programs"
