#!/usr/bin/env bash
# ci-timeout-seconds: 1500
# End-to-end: boot our riscv64 Linux guest and check what its /init prints.
#
# Builds the kernel when the cache is empty (scripts/build-linux-riscv64.sh), then boots it:
# - under our VMM (default): `bun run axvisor run configs/linux-riscv64.toml` (1 vCPU) and
#   configs/linux-riscv64-smp.toml (2 vCPUs), on the emulated backend;
# - with --reference qemu: under qemu-system-riscv64 (OpenSBI + QEMU's virt board), with QEMU's own device tree
#   and with the one our VMM generates (scripts/linux/riscv-virt-dtb.ts), to check the kernel, the init and our
#   device tree independently of the VMM.
# Each run must exit 0 and print, in order:
#   AXVISOR-INIT: hello from init
#   AXVISOR-INIT: cpus=<N>
#   AXVISOR-INIT: primes below 200001: 17984 (ok)
#   AXVISOR-INIT: powering off
#
# Usage: scripts/e2e/10-linux-riscv64.sh [--reference qemu] [--build-only] [--timeout SECONDS]
# Logs go to .cache/e2e/linux-riscv64/<case>.log. Ends with "N passed, N failed"; exit status 0 only if all passed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOG_DIR="$ROOT/.cache/e2e/linux-riscv64"
reference=""
build_only=0
# Our emulated hart boots Linux far slower than QEMU; the budget is per run.
timeout_s="${AXVISOR_E2E_TIMEOUT:-1200}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --reference) shift; reference="${1:?--reference needs a value (qemu)}" ;;
    --build-only) build_only=1 ;;
    --timeout) shift; timeout_s="${1:?--timeout needs seconds}" ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "linux-riscv64 e2e: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ -n $reference && $reference != "qemu" ]]; then
  echo "linux-riscv64 e2e: unknown reference '$reference' (only 'qemu')" >&2
  exit 2
fi

cd "$ROOT"
echo "== building (or reusing) the riscv64 Linux Image"
build_started=$(date +%s)
IMAGE="$(scripts/build-linux-riscv64.sh)"
echo "   $IMAGE ($(( $(date +%s) - build_started ))s)"
if [[ $build_only -eq 1 ]]; then
  # The build counts as one check: the Image must exist and carry the RISC-V Image magic.
  if [[ -f $IMAGE ]] && [[ "$(dd if="$IMAGE" bs=1 skip=56 count=4 status=none | od -An -tx1 | tr -d ' \n')" == "52534305" ]]; then
    echo "PASS build"
    echo "1 passed, 0 failed"
    exit 0
  fi
  echo "FAIL build: $IMAGE is missing or has no RISC-V Image magic"
  echo "0 passed, 1 failed"
  exit 1
fi

mkdir -p "$LOG_DIR"
passed=0
failed=0

# check_log <name> <log> <exit-status> <cpus>: the markers must appear in order and the run must have exited 0.
check_log() {
  local name="$1" log="$2" status="$3" cpus="$4"
  local problems=()
  if [[ $status -eq 124 ]]; then
    problems+=("timed out after ${timeout_s}s")
  elif [[ $status -ne 0 ]]; then
    problems+=("exit status $status")
  fi
  local expected=(
    "AXVISOR-INIT: hello from init"
    "AXVISOR-INIT: cpus=$cpus"
    "AXVISOR-INIT: primes below 200001: 17984 (ok)"
    "AXVISOR-INIT: powering off"
  )
  local line=0 marker found
  for marker in "${expected[@]}"; do
    # Line number of the first occurrence after the previous marker, so order is enforced.
    found=$(tail -n +"$((line + 1))" "$log" | grep -n -F -m1 -- "$marker" | cut -d: -f1 || true)
    if [[ -z $found ]]; then
      if [[ $line -gt 0 ]]; then problems+=("missing \"$marker\" after line $line"); else problems+=("missing \"$marker\""); fi
      break
    fi
    line=$((line + found))
  done
  if [[ ${#problems[@]} -eq 0 ]]; then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    local joined
    joined=$(printf '%s; ' "${problems[@]}")
    echo "FAIL $name: ${joined%; } (log: $log)"
    tail -n 15 "$log" | sed 's/^/   | /'
    failed=$((failed + 1))
  fi
}

# run_case <name> <cpus> <command...>: run with the time budget, log everything, then check.
run_case() {
  local name="$1" cpus="$2"
  shift 2
  local log="$LOG_DIR/$name.log"
  echo "== $name: $*"
  local started status=0
  started=$(date +%s)
  timeout --kill-after=10 "$timeout_s" "$@" </dev/null >"$log" 2>&1 || status=$?
  echo "   exit $status after $(( $(date +%s) - started ))s"
  check_log "$name" "$log" "$status" "$cpus"
}

if [[ $reference == "qemu" ]]; then
  command -v qemu-system-riscv64 >/dev/null || { echo "FAIL qemu: qemu-system-riscv64 is not installed (apt-get install qemu-system-misc)"; echo "0 passed, 1 failed"; exit 1; }
  qemu=(qemu-system-riscv64 -M virt -m 128M -bios default -nographic -no-reboot -kernel "$IMAGE")
  cmdline="console=ttyS0 earlycon=sbi"
  run_case qemu-own-dt-1cpu 1 "${qemu[@]}" -smp 1 -append "$cmdline"
  run_case qemu-own-dt-2cpu 2 "${qemu[@]}" -smp 2 -append "$cmdline"
  for cpus in 1 2; do
    dtb="$LOG_DIR/our-dt-${cpus}cpu.dtb"
    bun scripts/linux/riscv-virt-dtb.ts --harts "$cpus" --bootargs "$cmdline" --with-clint -o "$dtb"
    run_case "qemu-our-dt-${cpus}cpu" "$cpus" "${qemu[@]}" -smp "$cpus" -dtb "$dtb" -append "$cmdline"
  done
else
  run_case axvisor-1cpu 1 bun run axvisor run configs/linux-riscv64.toml
  run_case axvisor-2cpu 2 bun run axvisor run configs/linux-riscv64-smp.toml
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
