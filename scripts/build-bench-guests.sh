#!/usr/bin/env bash
# Build the bare-metal benchmark programs in bench/guests/ (C, M-mode at 0x8000_0000, HTIF + finisher exit).
# The built ELFs are committed, so `bun run bench` needs no cross compiler; rebuilding gives the same bytes.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo/bench/guests"
CC="${RISCV_CROSS:-riscv64-unknown-elf-}gcc"
if ! command -v "$CC" >/dev/null 2>&1; then
  echo "[skip] build-bench-guests: $CC not found (Debian: apt-get install gcc-riscv64-unknown-elf); keeping the committed ELFs"
  exit 0
fi
flags=(-march=rv64imac_zicsr -mabi=lp64 -O2 -nostdlib -nostartfiles -static -ffreestanding -fno-builtin -g0
  -mcmodel=medany -ffile-prefix-map="$repo"=. -Wl,--build-id=none -Wl,--no-warn-rwx-segments -T link.ld)
for src in *.c; do
  name="${src%.c}"
  "$CC" "${flags[@]}" -o "$name.elf" crt0.S "$src"
  echo "built bench/guests/$name.elf"
done
