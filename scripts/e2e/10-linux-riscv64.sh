#!/usr/bin/env bash
# ci-timeout-seconds: 2400
# End-to-end: boot riscv64 Linux on the emulated backend and check what our /init prints.
#
# Kernels:
# - Debian's own riscv64 kernel (trixie, 6.12; scripts/fetch-debian-riscv64.sh): a distro kernel we did not
#   configure, with our init in an initramfs and its virtio-mmio/virtio-rng drivers as modules. Booted with 1, 2
#   and 4 vCPUs (configs/linux-riscv64-debian.toml with cpu_num rewritten). The main test.
# - our small Linux 6.1 (tinyconfig + scripts/linux/riscv64.config; scripts/build-linux-riscv64.sh), 1 and 2 vCPUs
#   (configs/linux-riscv64.toml, configs/linux-riscv64-smp.toml). Kept because it covers what the distro kernel
#   does not: the SBI v0.1 legacy calls (its console is the legacy putchar; Debian's kernel has no SBI_V01), an
#   embedded initramfs, and the 6.1 series.
# With --reference qemu, the small kernel runs under qemu-system-riscv64 (OpenSBI + QEMU's virt board) with QEMU's
# device tree and with the one our VMM generates (scripts/linux/riscv-virt-dtb.ts), to check the kernel, the init
# and our device tree independently of the VMM.
#
# Each run must exit 0 and print, in order (the init: test/guests/linux-init/init.c):
#   AXVISOR-INIT: hello from init
#   AXVISOR-INIT: modules: N loaded, 0 failed          (Debian's kernel only; N = the lines of its load-order)
#   AXVISOR-INIT: time: ... (ok)                       (rdtime from user mode; clock_gettime advances)
#   AXVISOR-INIT: date=YYYY-MM-DDThh:mm:ssZ (ok)       (the RTC gave a plausible date, not 1970)
#   AXVISOR-INIT: hwrng: 16 bytes ... (ok)             (virtio-rng through /dev/hwrng)
#   AXVISOR-INIT: cpus=<N>
#   AXVISOR-INIT: isa=<the first hart's isa line>    (Debian's 6.12 kernel: must list zba, zbb and zbs, which our
#                                                     device tree advertises)
#   AXVISOR-INIT: primes below 200001: 17984 (ok)
#   AXVISOR-INIT: powering off
#
# Usage: scripts/e2e/10-linux-riscv64.sh [--reference qemu] [--build-only] [--only debian|small] [--timeout SECONDS]
# Logs go to .cache/e2e/linux-riscv64/<case>.log. Ends with "N passed, N failed"; exit status 0 only if all passed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOG_DIR="$ROOT/.cache/e2e/linux-riscv64"
reference=""
build_only=0
only=""
# Our emulated hart boots Linux far slower than QEMU; the budget is per run.
timeout_s="${AXVISOR_E2E_TIMEOUT:-900}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --reference) shift; reference="${1:?--reference needs a value (qemu)}" ;;
    --build-only) build_only=1 ;;
    --only) shift; only="${1:?--only needs debian or small}" ;;
    --timeout) shift; timeout_s="${1:?--timeout needs seconds}" ;;
    -h|--help) sed -n '2,31p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "linux-riscv64 e2e: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ -n $reference && $reference != "qemu" ]]; then
  echo "linux-riscv64 e2e: unknown reference '$reference' (only 'qemu')" >&2
  exit 2
fi

cd "$ROOT"
mkdir -p "$LOG_DIR"
passed=0
failed=0
# Whatever stops the script early still ends with the count line CI looks for.
trap 'status=$?; if [[ $status -ne 0 && -z ${counted:-} ]]; then echo "FAIL setup (exit $status)"; echo "$passed passed, $((failed + 1)) failed"; fi' EXIT

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

# has_image_magic <file>: the RISC-V Image header's "RSC\x05" at offset 56.
has_image_magic() {
  [[ -f $1 ]] && [[ "$(dd if="$1" bs=1 skip=56 count=4 status=none | od -An -tx1 | tr -d ' \n')" == "52534305" ]]
}

SMALL_IMAGE=""
DEBIAN_DIR=""
if [[ $only != "debian" ]]; then
  echo "== building (or reusing) the small riscv64 Linux Image"
  started=$(date +%s)
  if SMALL_IMAGE="$(scripts/build-linux-riscv64.sh)" && has_image_magic "$SMALL_IMAGE"; then
    echo "   $SMALL_IMAGE ($(( $(date +%s) - started ))s)"
    [[ $build_only -eq 1 ]] && pass "build small kernel"
  else
    fail "build small kernel: scripts/build-linux-riscv64.sh failed or gave no RISC-V Image"
    SMALL_IMAGE=""
  fi
fi
if [[ $only != "small" && -z $reference ]]; then
  echo "== fetching (or reusing) Debian's riscv64 kernel and our initramfs"
  if DEBIAN_DIR="$(scripts/fetch-debian-riscv64.sh)" && has_image_magic "$DEBIAN_DIR/Image"; then
    echo "   $DEBIAN_DIR ($(cat "$DEBIAN_DIR/kernel-package"))"
    [[ $build_only -eq 1 ]] && pass "fetch Debian kernel"
  else
    fail "fetch Debian kernel: scripts/fetch-debian-riscv64.sh failed or gave no RISC-V Image"
    DEBIAN_DIR=""
  fi
fi
if [[ $build_only -eq 1 ]]; then
  counted=1
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit
fi

# check_log <name> <log> <exit-status> <cpus> <kernel: debian|small>: the markers must appear in order and the run
# must have exited 0.
check_log() {
  local name="$1" log="$2" status="$3" cpus="$4" kernel="$5"
  local problems=()
  if [[ $status -eq 124 ]]; then
    problems+=("timed out after ${timeout_s}s")
  elif [[ $status -ne 0 ]]; then
    problems+=("exit status $status")
  fi
  local expected=("AXVISOR-INIT: hello from init")
  [[ $kernel == debian ]] && expected+=("AXVISOR-INIT: modules: $(wc -l <"$DEBIAN_DIR/load-order") loaded, 0 failed")
  expected+=(
    "AXVISOR-INIT: time: "
    "AXVISOR-INIT: date="
    "AXVISOR-INIT: hwrng: 16 bytes "
    "AXVISOR-INIT: cpus=$cpus"
    "AXVISOR-INIT: isa="
    "AXVISOR-INIT: primes below 200001: 17984 (ok)"
    "AXVISOR-INIT: powering off"
  )
  local line=0 marker found text
  for marker in "${expected[@]}"; do
    # Line number of the first occurrence after the previous marker, so order is enforced.
    found=$(tail -n +"$((line + 1))" "$log" | grep -n -F -m1 -- "$marker" | cut -d: -f1 || true)
    if [[ -z $found ]]; then
      if [[ $line -gt 0 ]]; then problems+=("missing \"$marker\" after line $line"); else problems+=("missing \"$marker\""); fi
      break
    fi
    line=$((line + found))
    text="$(sed -n "${line}p" "$log")"
    # The init judges its own checks; a line that says WRONG (or lacks its "ok") is a failure.
    if [[ $text == *"WRONG"* ]] || { [[ $marker == *": time: "* || $marker == *"date="* || $marker == *"hwrng"* ]] && [[ $text != *"(ok)"* ]]; }; then
      problems+=("${text#*AXVISOR-INIT: }")
    fi
    # Linux 6.12 lists the multi-letter extensions it found and uses (6.1 knows too few of them to check).
    if [[ $marker == *"isa="* && $kernel == debian ]]; then
      local extension
      for extension in zba zbb zbs; do
        [[ $text == *"_${extension}_"* || $text == *"_${extension}" ]] || problems+=("the kernel does not list $extension: ${text#*AXVISOR-INIT: }")
      done
    fi
  done
  if [[ ${#problems[@]} -eq 0 ]]; then
    pass "$name"
  else
    local joined
    joined=$(printf '%s; ' "${problems[@]}")
    fail "$name: ${joined%; } (log: $log)"
    tail -n 15 "$log" | sed 's/^/   | /'
  fi
}

# run_case <name> <cpus> <kernel> <command...>: run with the time budget, log everything, then check.
run_case() {
  local name="$1" cpus="$2" kernel="$3"
  shift 3
  local log="$LOG_DIR/$name.log"
  echo "== $name: $*"
  local started status=0
  started=$(date +%s)
  timeout --kill-after=10 "$timeout_s" "$@" </dev/null >"$log" 2>&1 || status=$?
  echo "   exit $status after $(( $(date +%s) - started ))s"
  check_log "$name" "$log" "$status" "$cpus" "$kernel"
}

# case_config <template> <cpus>: a copy of a config with cpu_num = <cpus>, absolute image paths, and a kernel that
# reboots on panic while the VM stops on reboot (so a panic ends the run at once instead of at the timeout).
case_config() {
  local template="$1" cpus="$2"
  local out="$LOG_DIR/$(basename "$template" .toml)-${cpus}cpu.toml"
  sed -e "s/^cpu_num = .*/cpu_num = $cpus/" \
    -e "s#\"\.\./\.cache/#\"$ROOT/.cache/#g" \
    -e 's/^cmdline = "\(.*\)"/cmdline = "\1 panic=-1"/' \
    -e 's/^\[base\]$/[base]\non_reset = "stop"/' "$template" >"$out"
  echo "$out"
}

if [[ $reference == "qemu" ]]; then
  command -v qemu-system-riscv64 >/dev/null || { fail "qemu: qemu-system-riscv64 is not installed (apt-get install qemu-system-misc)"; }
  if [[ -n $SMALL_IMAGE ]] && command -v qemu-system-riscv64 >/dev/null; then
    qemu=(qemu-system-riscv64 -M virt -m 128M -bios default -nographic -no-reboot -device virtio-rng-device -kernel "$SMALL_IMAGE")
    cmdline="console=ttyS0 earlycon=sbi"
    run_case qemu-own-dt-1cpu 1 small "${qemu[@]}" -smp 1 -append "$cmdline"
    run_case qemu-own-dt-2cpu 2 small "${qemu[@]}" -smp 2 -append "$cmdline"
    for cpus in 1 2; do
      dtb="$LOG_DIR/our-dt-${cpus}cpu.dtb"
      bun scripts/linux/riscv-virt-dtb.ts --harts "$cpus" --bootargs "$cmdline" --with-clint -o "$dtb"
      run_case "qemu-our-dt-${cpus}cpu" "$cpus" small "${qemu[@]}" -smp "$cpus" -dtb "$dtb" -append "$cmdline"
    done
  fi
else
  if [[ -n $DEBIAN_DIR ]]; then
    for cpus in 1 2 4; do
      run_case "debian-${cpus}cpu" "$cpus" debian bun run axvisor run "$(case_config configs/linux-riscv64-debian.toml "$cpus")"
    done
  fi
  if [[ -n $SMALL_IMAGE ]]; then
    run_case small-1cpu 1 small bun run axvisor run "$(case_config configs/linux-riscv64.toml 1)"
    run_case small-2cpu 2 small bun run axvisor run "$(case_config configs/linux-riscv64-smp.toml 2)"
  fi
fi

counted=1
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
