#!/usr/bin/env bash
# ci-timeout-seconds: 900
# End-to-end: a riscv64 Linux guest on the emulated backend across a snapshot, driven through the control API only
# (scripts/e2e/linux-snapshot.ts): booted by `axvisor run --api-sock`, paused mid-boot, snapshotted, stopped; loaded
# and resumed by a new `axvisor serve` process, where its init must run its checks (time, RTC, virtio-rng, a prime
# sieve) and power off with 0, every line exactly once across the two processes.
#
# The kernel is our small Linux (scripts/build-linux-riscv64.sh, cached outside the clone; built here if missing,
# 2–10 minutes once) with its built-in init: configs/linux-riscv64.toml (1 vCPU) and linux-riscv64-smp.toml (2).
#
# Usage: scripts/e2e/61-linux-snapshot.sh
# Ends with "N passed, N failed".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
counted=""
on_exit() {
  local status=$?
  if [[ -z $counted ]]; then
    echo "FAIL linux-snapshot: stopped early (exit $status)"
    echo "0 passed, 1 failed"
  fi
}
trap on_exit EXIT
if ! scripts/build-linux-riscv64.sh --cached >/dev/null 2>&1; then
  echo "== building the small riscv64 Linux (once)"
  scripts/build-linux-riscv64.sh >/dev/null
fi
passed=0
failed=0
for config in configs/linux-riscv64.toml configs/linux-riscv64-smp.toml; do
  # The driver exits 1 on FAIL: keep its verdict line (set -e would end the script before it is printed).
  # Paused at the I/O schedulers: ~1 s of guest boot remains (drivers, RTC, then /init), so a loaded machine's
  # slower reaction to the console line still lands mid-boot (the RTC line left only ~65 ms).
  result="$(bun scripts/e2e/linux-snapshot.ts "$config" --at "io scheduler kyber registered" | tail -n 1)" || true
  echo "${result:-(the driver printed no verdict)}"
  if [[ $result == "AXVISOR-LINUX-SNAP: PASS"* ]]; then
    echo "PASS linux-snapshot $config"
    passed=$((passed + 1))
  else
    echo "FAIL linux-snapshot $config"
    failed=$((failed + 1))
  fi
done
counted=1
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
