#!/usr/bin/env bash
# Builds the bare-metal arm64 test guests (test/guests/arm64/*.S) into flat binaries linked at 0x4000_0000, the
# arm64-virt board's RAM base, with Debian's cross compiler (gcc-aarch64-linux-gnu). The .bin files are committed,
# so the tests need no cross compiler; rerun this after changing a .S file. OUT=<dir> writes the binaries there
# instead (test/guests-arm64.test.ts rebuilds into a temporary folder and compares).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
OUT="${OUT:-.}"
CC="${CC:-aarch64-linux-gnu-gcc}"
OBJCOPY="${OBJCOPY:-aarch64-linux-gnu-objcopy}"
command -v "$CC" >/dev/null || { echo "$CC is not installed (Debian: gcc-aarch64-linux-gnu)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for source in hello mmio-widths smp timer-gic reset mmio-loop counter; do
  "$CC" -nostdlib -static -ffreestanding -march=armv8-a -Wl,--build-id=none -Wl,-N -Wl,--no-warn-rwx-segments -Wl,-Ttext=0x40000000 \
    -Wl,-e,_start -o "$work/$source.elf" "$source.S"
  "$OBJCOPY" -O binary "$work/$source.elf" "$OUT/$source.bin"
  echo "$source.bin: $(stat -c %s "$OUT/$source.bin") bytes"
done
