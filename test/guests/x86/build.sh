#!/usr/bin/env bash
# Builds the x86 test guests (flat binaries, committed next to their sources) with the host's gcc and binutils:
# x86 is the host architecture, so no cross toolchain is needed. Usage: test/guests/x86/build.sh
set -euo pipefail
cd "$(dirname "$0")"
for tool in gcc ld objcopy; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is not installed (apt-get install gcc binutils)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name:load-address (real-mode guests at 0x8000, long-mode ones at 0x10000)
guests="serial-hello:0x8000 hypercall:0x8000 pio:0x8000 hlt:0x8000 triple-fault:0x10000 spin:0x8000 pio-loop:0x8000 pio-scratch-loop:0x8000 mmio:0x10000 smp:0x10000 cpl3:0x10000 counter:0x8000 gdb-target:0x100000"
for entry in $guests; do
  name=${entry%%:*}
  address=${entry##*:}
  gcc -c -nostdlib -o "$work/$name.o" "$name.S"
  ld -m elf_x86_64 -nostdlib -N --no-warn-rwx-segments -Ttext="$address" -e _start -o "$work/$name.elf" "$work/$name.o"
  objcopy -O binary -j .text "$work/$name.elf" "$name.bin"
  # The GDB stub's guest is debugged by symbol: its ELF (no debug info, no build id) is committed too.
  if [[ $name == gdb-target ]]; then
    objcopy --remove-section=.note.gnu.build-id --remove-section=.note.gnu.property "$work/$name.elf" "$name.elf"
  fi
  echo "built $name.bin ($(stat -c %s "$name.bin") bytes, load at $address)"
done
