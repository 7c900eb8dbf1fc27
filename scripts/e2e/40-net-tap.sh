#!/usr/bin/env bash
# ci-timeout-seconds: 900
# End-to-end: a guest on a TAP interface, traffic both ways. Debian's riscv64 kernel (scripts/fetch-debian-riscv64.sh:
# trixie's 6.12, virtio_net and its failover modules in the initramfs) on the emulated backend, with a virtio-net
# device from `[[devices.nets]]`, inside a network namespace this script makes:
#
#   netns axnet-<pid>: TAP axtap0 (made here, up, 10.0.2.2/24) ── our VMM attaches to it ── guest eth0 10.0.2.15/24
#
# The guest's init in network mode (test/guests/linux-init/init.c, `axvisor.net=` on its command line) brings eth0
# up with ioctls, pings 10.0.2.2 three times, then over TCP reads 4 MiB from the peer (checksum) and sends 4 MiB of
# its own stream. The peer (scripts/e2e/net-peer.ts, in the namespace) pings the guest three times, checks both
# checksums, and prints both directions' throughput.
#
# Cases: `ours-1cpu` and `ours-2cpu` (--cpus picks others); `--reference qemu` runs the same guest under
# qemu-system-riscv64 with `-netdev tap,script=no -device virtio-net-device` on the same TAP set-up instead.
# Skips (exit 0, reason printed) where /dev/net/tun, `ip`, `ping`, root or network namespaces are missing.
#
# Usage: scripts/e2e/40-net-tap.sh [--reference qemu] [--cpus "1 2"] [--bytes N] [--timeout SECONDS]
# Logs: .cache/e2e/net-tap/<case>.log. Ends with "N passed, N failed".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOG_DIR="$ROOT/.cache/e2e/net-tap"
reference=""
cpus_list="1 2"
bytes=$((4 << 20))
timeout_s="${AXVISOR_E2E_TIMEOUT:-600}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --reference) shift; reference="${1:?--reference needs a value (qemu)}" ;;
    --cpus) shift; cpus_list="${1:?--cpus needs counts}" ;;
    --bytes) shift; bytes="${1:?--bytes needs a count}" ;;
    --timeout) shift; timeout_s="${1:?--timeout needs seconds}" ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "net-tap e2e: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ -z $reference || $reference == qemu ]] || { echo "net-tap e2e: unknown reference '$reference' (only qemu)" >&2; exit 2; }

passed=0
failed=0
counted=""
NS="axnet-$$"
ns_made=""
cleanup() {
  local status=$?
  [[ -n $ns_made ]] && ip netns del "$NS" 2>/dev/null || true
  if [[ -z $counted ]]; then
    echo "FAIL net-tap: stopped early (exit $status)"
    echo "$passed passed, $((failed + 1)) failed"
  fi
}
trap cleanup EXIT
skip() {
  echo "SKIP net-tap: $*"
  counted=1
  echo "0 passed, 0 failed (skipped: $*)"
  exit 0
}

# --- what the test needs from the host ---------------------------------------------------------------------------------
[[ $(uname -s) == Linux ]] || skip "TAP interfaces and network namespaces are Linux features"
[[ $(id -u) -eq 0 ]] || skip "making a network namespace and a TAP needs root"
[[ -c /dev/net/tun ]] || skip "/dev/net/tun is missing (modprobe tun)"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"
command -v ping >/dev/null || skip "ping (iputils-ping) is not installed"
if [[ $reference == qemu ]]; then
  command -v qemu-system-riscv64 >/dev/null || skip "qemu-system-riscv64 is not installed (qemu-system-misc)"
fi
ip netns add "$NS" 2>/dev/null || skip "cannot make a network namespace (ip netns add failed)"
ns_made=1

cd "$ROOT"
mkdir -p "$LOG_DIR"
echo "== fetching (or reusing) Debian's riscv64 kernel and our initramfs"
DEBIAN_DIR="$(scripts/fetch-debian-riscv64.sh)" || { echo "FAIL net-tap: scripts/fetch-debian-riscv64.sh failed"; counted=1; echo "0 passed, 1 failed"; exit 1; }
grep -qx virtio_net "$DEBIAN_DIR/load-order" || { echo "FAIL net-tap: $DEBIAN_DIR has no virtio_net module"; counted=1; echo "0 passed, 1 failed"; exit 1; }

# The link: a TAP made here (so the VMM attaches to an existing one), with the peer's address, up.
TAP=axtap0
HOST_IP=10.0.2.2
GUEST_IP=10.0.2.15
MAC=52:54:00:12:34:56
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev "$TAP" mode tap
ip -n "$NS" addr add "$HOST_IP/24" dev "$TAP"
ip -n "$NS" link set "$TAP" up
CMDLINE="console=ttyS0 quiet panic=-1 axvisor.net=$GUEST_IP/24,$HOST_IP,5555,$bytes"

# run_case <name> <command...>: the peer runs the VM command in the namespace and judges the transfer.
run_case() {
  local name="$1"
  shift
  local log="$LOG_DIR/$name.log" status=0 started
  echo "== $name"
  started=$(date +%s)
  timeout --kill-after=10 "$((timeout_s + 30))" ip netns exec "$NS" \
    bun scripts/e2e/net-peer.ts --listen "$HOST_IP" --guest "$GUEST_IP" --bytes "$bytes" --timeout "$timeout_s" -- "$@" \
    </dev/null >"$log" 2>&1 || status=$?
  grep -E "^NET-PEER: |AXVISOR-INIT: net: " "$log" | sed 's/^/   /' || true
  if [[ $status -eq 0 ]] && grep -q '^NET-PEER-RESULT .*"ok":true' "$log"; then
    echo "PASS net-tap $name ($(( $(date +%s) - started ))s)"
    passed=$((passed + 1))
  else
    echo "FAIL net-tap $name: exit $status (log: $log)"
    tail -n 15 "$log" | sed 's/^/   | /'
    failed=$((failed + 1))
  fi
}

if [[ $reference == qemu ]]; then
  run_case qemu-1cpu qemu-system-riscv64 -M virt -m 512M -smp 1 -bios default -nographic -no-reboot \
    -kernel "$DEBIAN_DIR/Image" -initrd "$DEBIAN_DIR/initramfs.cpio" -append "$CMDLINE" \
    -global virtio-mmio.force-legacy=false \
    -netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no" -device "virtio-net-device,netdev=n0,mac=$MAC"
else
  for cpus in $cpus_list; do
    config="$LOG_DIR/net-${cpus}cpu.toml"
    cat >"$config" <<EOF
[base]
id = 1
name = "net-riscv64"
vm_type = 2
cpu_num = $cpus
arch = "riscv64"
backend = "emulated"
on_reset = "stop"

[kernel]
entry_point = 0x8020_0000
kernel_path = "$DEBIAN_DIR/Image"
kernel_load_addr = 0x8020_0000
ramdisk_path = "$DEBIAN_DIR/initramfs.cpio"
cmdline = "$CMDLINE"
memory_regions = [[0x8000_0000, 0x2000_0000, 0x7, 0]]

[devices]
console = "stdout"

[[devices.nets]]
tap = "$TAP"
mac = "$MAC"
EOF
    run_case "ours-${cpus}cpu" bun src/cli/main.ts run "$config"
  done
fi

counted=1
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
