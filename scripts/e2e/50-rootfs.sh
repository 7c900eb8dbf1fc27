#!/usr/bin/env bash
# ci-timeout-seconds: 3000
# End-to-end: a Debian bookworm root filesystem (scripts/build-rootfs.sh) on virtio-blk, booted to systemd's
# multi-user target by OUR CLI on OUR KVM backend, nested, for x86_64 and arm64:
#
#   host ── qemu-system-x86_64 -cpu max (TCG, emulated SVM)  /  qemu-system-aarch64 -M virt,virtualization=on
#            │  two virtio-blk-pci disks (discard=unmap): a sparse copy of the rootfs image, a 32 MiB scratch image
#            └─ Debian's generic kernel, KVM ── Bun + `axvisor run rootfs.toml` (the user's path: a TOML with
#               [[devices.disks]] /dev/vda (the rootfs) and /dev/vdb (the scratch disk), root=/dev/vda)
#               └─ the same Debian kernel; a busybox initramfs loads the virtio/ext4 modules, mounts /dev/vda and
#                  switch_roots to Debian's systemd. A unit this script puts in the image (debugfs) waits for the
#                  boot to finish, writes /root/axvisor-e2e.txt, writes and deletes 48 MiB, runs `fstrim /` and
#                  `blkdiscard /dev/vdb`, and runs `systemctl poweroff` (x86: ACPI S5; arm64: PSCI SYSTEM_OFF).
#   arm64 also boots the image once more and asks it to shut down as Ctrl-A R does (the board's PL061 GPIO power
#   key): Debian's systemd-logind is not watching it without udev, so the unit waits for the key on
#   /dev/input/event* and powers off when it comes.
#
# Checks per arch (the host reads the images after QEMU exits):
#   boot      the CLI exited 0 after the guest reported "multi-user.target active"
#   file      /root/axvisor-e2e.txt is in the image (debugfs) with the guest's line
#   fstrim    the guest trimmed bytes and the rootfs copy's allocated size grew by less than half of the 48 MiB the
#             guest wrote and deleted (without discard it grows by all of it)
#   blkdiscard the scratch image's allocated size fell from 32 MiB to under 1 MiB
#   powerkey  (arm64) Ctrl-A R through the CLI's stdin: the guest saw KEY_POWER and the CLI exited 0
#
# Pieces (Debian kernels and busybox via apt-get download, arm64 Bun via npm pack, the rootfs images) are cached
# outside the clone ($AXVISOR_CACHE/rootfs-e2e and $AXVISOR_CACHE/rootfs, see scripts/lib/cache.sh); the outer
# initramfs is rebuilt when our sources change. Needs root (debootstrap, debugfs on the images is fine as any user).
#
# Usage: scripts/e2e/50-rootfs.sh [--arch amd64|arm64|all] [--cases "steps powerkey"] [--build-only] [--timeout SECONDS]
#        [--keep]
# Ends with "N passed, N failed"; exit status 0 only if every check passed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../lib/cache.sh
source "$ROOT/scripts/lib/cache.sh"
# shellcheck source=../lib/initramfs.sh
source "$ROOT/scripts/lib/initramfs.sh"
arches="amd64 arm64"
only_cases=""
build_only=0
keep=0
timeout_s="${AXVISOR_E2E_TIMEOUT:-1400}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --arch) shift; case "${1:-}" in all) arches="amd64 arm64" ;; amd64|arm64) arches="$1" ;; *) echo "rootfs e2e: --arch amd64|arm64|all" >&2; exit 2 ;; esac ;;
    --build-only) build_only=1 ;;
    --keep) keep=1 ;;
    --cases) shift; only_cases="${1:?--cases needs case names (steps, powerkey)}" ;;
    --timeout) shift; timeout_s="${1:?--timeout needs seconds}" ;;
    -h|--help) sed -n '2,34p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "rootfs e2e: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

passed=0
failed=0
counted=""
temps=()
check() { # check <name> <ok 0|1> <detail>
  if [[ $2 == 1 ]]; then echo "PASS rootfs $1: $3"; passed=$((passed + 1)); else echo "FAIL rootfs $1: $3"; failed=$((failed + 1)); fi
}
finish() {
  counted=1
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}
on_exit() {
  local status=$?
  [[ ${#temps[@]} -gt 0 && $keep -eq 0 ]] && rm -rf "${temps[@]}"
  if [[ -z $counted ]]; then
    echo "FAIL rootfs: stopped early (exit $status)"
    echo "$passed passed, $((failed + 1)) failed"
  fi
}
trap on_exit EXIT
die() { echo "FAIL rootfs: $*"; failed=$((failed + 1)); finish; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (the rootfs is built with debootstrap)"
command -v depmod >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends kmod >/dev/null 2>&1 || true
for tool in apt-get apt-cache dpkg-deb cpio gzip bun debugfs truncate du depmod xz; do
  command -v "$tool" >/dev/null || die "$tool is not installed (Debian: apt, dpkg, cpio, gzip, e2fsprogs, kmod, xz-utils; bun from npm)"
done
CACHE="$(cache_dir "$ROOT" rootfs-e2e)"
mkdir -p "$CACHE/debs" "$CACHE/x"
NPM_DEPS=(citty consola smol-toml zod)
if ! (cd "$ROOT" && for dep in "${NPM_DEPS[@]}"; do [[ -f node_modules/$dep/package.json ]] || exit 1; done); then
  (cd "$ROOT" && bun install --frozen-lockfile >/dev/null) || die "bun install --frozen-lockfile failed"
fi

# fetch_deb <package> <arch>: the .deb in $CACHE/debs (copied from another e2e script's cache when one has it).
fetch_deb() {
  local pkg="$1" arch="$2" found
  found="$(ls "$CACHE/debs/${pkg}"_*_"$arch".deb 2>/dev/null | head -1 || true)"
  if [[ -z $found ]]; then
    found="$(ls "$AXVISOR_CACHE"/*/debs/"${pkg}"_*_"$arch".deb 2>/dev/null | head -1 || true)"
    if [[ -n $found ]]; then
      cp "$found" "$CACHE/debs/"
    else
      echo "== apt-get download $pkg:$arch" >&2
      (cd "$CACHE/debs" && apt-get download "$pkg:$arch" >/dev/null 2>&1) || die "apt-get download $pkg:$arch failed"
    fi
    found="$(ls "$CACHE/debs/${pkg}"_*_"$arch".deb | head -1)"
  fi
  printf '%s\n' "$found"
}
unpack() { # unpack <deb|tgz> <dir>: once
  [[ -d $2 ]] && return 0
  rm -rf "$2.tmp" && mkdir -p "$2.tmp"
  case "$1" in
    *.deb) dpkg-deb -x "$1" "$2.tmp" ;;
    *.tgz) tar xzf "$1" -C "$2.tmp" ;;
  esac
  mv "$2.tmp" "$2"
}
allocated() { du --block-size=1 "$1" | cut -f1; }
mib() { echo "$(( $1 / 1048576 )) MiB"; }

# modules_for <kernel tree> <module...>: the .ko paths to insmod, dependencies first (modules.dep), built-ins skipped.
modules_for() {
  local tree="$1"; shift
  local moddir
  moddir="$(ls -d "$tree"/lib/modules/* | head -1)"
  awk -v want="$*" '
    BEGIN { n = split(want, w, " ") }
    { sub(":", "", $1); path[$1] = $0; deps[$1] = ""; for (i = 2; i <= NF; i++) deps[$1] = deps[$1] " " $i
      m = $1; sub(".*/", "", m); sub("\\.ko.*", "", m); gsub("-", "_", m); byname[m] = $1 }
    function visit(p,   d, k, i) {
      if (p in seen) return; seen[p] = 1
      k = split(deps[p], d, " ")
      for (i = k; i >= 1; i--) visit(d[i])
      order[++count] = p
    }
    END {
      for (i = 1; i <= n; i++) { m = w[i]; gsub("-", "_", m); if (m in byname) visit(byname[m]) }
      for (i = 1; i <= count; i++) print order[i]
    }' "$moddir/modules.dep" | sed "s|^|$moddir/|"
}
# copy_modules <kernel tree> <dest dir> <module...>: decompressed, plus a load order file. A module the kernel has
# neither as a file nor built in is an error.
copy_modules() {
  local tree="$1" dest="$2"; shift 2
  local moddir version m
  moddir="$(ls -d "$tree"/lib/modules/* | head -1)"
  version="$(basename "$moddir")"
  # The package ships no modules.dep (its postinst runs depmod): make one, for the package's tree only.
  [[ -s $moddir/modules.dep ]] || depmod -b "$tree" "$version" || die "depmod -b $tree $version failed"
  for m in "$@"; do
    grep -qE "/${m//_/[_-]}\.ko" "$moddir/modules.dep" "$moddir/modules.builtin" \
      || die "module $m is neither a module nor built into $version"
  done
  mkdir -p "$dest"
  : > "$dest/order"
  local ko name
  while read -r ko; do
    name="$(basename "$ko")"; name="${name%%.ko*}"
    case "$ko" in
      *.xz) xz -dc "$ko" ;;
      *.zst) zstd -dc "$ko" ;;
      *) cat "$ko" ;;
    esac > "$dest/$name.ko"
    echo "$name" >> "$dest/order"
  done < <(modules_for "$tree" "$@")
}

busybox_root() { # busybox_root <dir> <busybox tree>
  mkdir -p "$1"/{bin,dev,proc,sys,tmp,root,newroot}
  cp "$2/bin/busybox" "$1/bin/busybox"
  for applet in sh mount umount echo cat grep insmod poweroff reboot sleep uname ls mkdir switch_root sync date tee \
    mkfifo printf head tail cut dd; do
    ln -sf busybox "$1/bin/$applet"
  done
}

# --- what the e2e puts into the image: a unit run once the boot is done ------------------------------------------
E2E_SCRIPT='#!/bin/bash
# axvisor-ts end-to-end steps (scripts/e2e/50-rootfs.sh put this here)
say() { echo "AXVISOR-ROOTFS-E2E: $*" > /dev/console; }
mode="$(sed -n "s/.*axvisor.e2e=\([a-z]*\).*/\1/p" /proc/cmdline)"
state="$(timeout 900 systemctl is-system-running --wait)"
say "system $state; multi-user.target $(systemctl is-active multi-user.target); $(. /etc/os-release; echo "$PRETTY_NAME"); kernel $(uname -r) $(uname -m); up $(cut -d" " -f1 /proc/uptime) s"
failed_units="$(systemctl --failed --no-legend --plain | cut -d" " -f1 | tr "\n" " ")"
[ -n "$failed_units" ] && say "failed units: $failed_units"
if [ "$mode" = powerkey ]; then
  dev="$(grep -l "gpio-keys" /sys/class/input/event*/device/name 2>/dev/null | head -n 1 | sed "s|/sys/class/input/\(event[0-9]*\)/.*|/dev/input/\1|")"
  # Open the device BEFORE saying we wait: evdev only queues events for readers that have it open.
  if [ -n "$dev" ] && exec 3< "$dev"; then
    say "power key device: $dev; waiting for the shutdown request"
    # struct input_event on a 64-bit kernel: 16 bytes of time, then type (EV_KEY = 1), code (KEY_POWER = 116 = 0x74).
    event="$(timeout 300 dd bs=24 count=1 status=none <&3 | od -An -tx1 -j16 -N4 | tr -d " \n")"
    if [ "$event" = 01007400 ]; then say "power key pressed ($dev: EV_KEY KEY_POWER)"; else say "no KEY_POWER event (read: ${event:-nothing})"; fi
    exec 3<&-
  else
    say "no gpio-keys input device; waiting for the shutdown request"
  fi
  say "interrupts: $(grep -i -E "gpio|pl061" /proc/interrupts | tr -s " " | tr "\n" ";")"
  systemctl poweroff
  exit 0
fi
echo "written by $(uname -m) Debian $(cat /etc/debian_version) under axvisor-ts, boot $(cat /proc/sys/kernel/random/boot_id)" > /root/axvisor-e2e.txt
sync
say "discard limits: vda $(cat /sys/block/vda/queue/discard_max_bytes) B, write zeroes $(cat /sys/block/vda/queue/write_zeroes_max_bytes) B"
dd if=/dev/zero of=/var/tmp/axvisor-fill bs=1M count=48 conv=fsync status=none
rm /var/tmp/axvisor-fill
sync
say "fstrim: $(fstrim -v / 2>&1)"
say "blkdiscard: $(blkdiscard -v /dev/vdb 2>&1) (status $?)"
sync
say "powering off"
systemctl poweroff'
E2E_UNIT='[Unit]
Description=axvisor-ts end-to-end steps
After=basic.target

[Service]
Type=simple
ExecStart=/usr/local/sbin/axvisor-e2e
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target'

# The inner initramfs: load the modules in order, mount root= and hand over to Debian's /sbin/init.
INNER_INIT='#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod "/modules/$m.ko" 2>/dev/null || echo "axvisor initramfs: insmod $m failed"; done < /modules/order
root="$(sed -n "s/.*root=\([^ ]*\).*/\1/p" /proc/cmdline)"
i=0
while [ ! -b "$root" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
mount -t ext4 -o rw "$root" /newroot || { echo "axvisor initramfs: cannot mount $root"; poweroff -f; }
umount /proc /sys
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /sbin/init'

# --- per arch ------------------------------------------------------------------------------------------------------
run_arch() {
  local arch="$1"
  local kernel_meta kernel_pkg kernel_deb busybox_deb tree busybox image qemu console inner_cpus outer_modules inner_modules
  echo "== $arch"
  local foreign=""
  [[ $arch == "$(dpkg --print-architecture)" ]] || foreign=":$arch"
  if [[ -n $foreign ]] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    dpkg --add-architecture "$arch" && apt-get update -q >/dev/null || die "cannot add the $arch architecture to apt"
  fi
  kernel_meta="linux-image-$arch$foreign"
  kernel_pkg="$(apt-cache depends "$kernel_meta" 2>/dev/null | sed -n "s/^ *Depends: \(linux-image-[0-9][^:]*-$arch\)\(:$arch\)\{0,1\}\$/\1/p" | head -1)"
  [[ -n $kernel_pkg ]] || die "cannot resolve $kernel_meta (apt-get update?)"
  kernel_deb="$(fetch_deb "$kernel_pkg" "$arch")"
  busybox_deb="$(fetch_deb busybox-static "$arch")"
  tree="$CACHE/x/$kernel_pkg"
  busybox="$CACHE/x/busybox-$arch"
  unpack "$kernel_deb" "$tree"
  unpack "$busybox_deb" "$busybox"
  image="$(ls "$tree"/boot/vmlinuz-* | head -1)"
  echo "   kernel $image"
  echo "== the rootfs image (scripts/build-rootfs.sh --arch $arch)"
  local rootfs
  rootfs="$("$ROOT/scripts/build-rootfs.sh" --arch "$arch" | tail -n 1)" || die "scripts/build-rootfs.sh --arch $arch failed"
  [[ -f $rootfs ]] || die "scripts/build-rootfs.sh --arch $arch printed no image"

  # What Bun needs in the outer guest, and the machine.
  local bun_exe bun_libs=()
  if [[ $arch == amd64 ]]; then
    qemu=(qemu-system-x86_64 -M pc -cpu max -smp 1 -m 2048)
    console=ttyS0
    outer_modules="irqbypass kvm kvm-amd virtio_pci virtio_blk"
    bun_exe="$(readlink -f "$(command -v bun)")"
  else
    # pauth and SVE off: QEMU 7.2 emulates pointer authentication slowly and Bun died under it now and then
    # (scripts/e2e/30-kvm-arm64-linux.sh says more).
    qemu=(qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu max,pauth=off,sve=off -smp 2 -m 2048)
    console=ttyAMA0
    outer_modules="virtio_pci virtio_blk"
    local bun_version bun_tgz libc_deb
    bun_version="$(bun --version)"
    bun_tgz="$(ls "$CACHE"/debs/oven-bun-linux-aarch64-"$bun_version".tgz "$AXVISOR_CACHE"/*/bun/oven-bun-linux-aarch64-"$bun_version".tgz 2>/dev/null | head -1 || true)"
    if [[ -z $bun_tgz ]]; then
      (cd "$CACHE/debs" && npm pack "@oven/bun-linux-aarch64@$bun_version" >/dev/null 2>&1) || die "npm pack @oven/bun-linux-aarch64@$bun_version failed"
      bun_tgz="$CACHE/debs/oven-bun-linux-aarch64-$bun_version.tgz"
    fi
    unpack "$bun_tgz" "$CACHE/x/bun-arm64-$bun_version"
    bun_exe="$CACHE/x/bun-arm64-$bun_version/package/bin/bun"
    libc_deb="$(fetch_deb libc6 arm64)"
    unpack "$libc_deb" "$CACHE/x/libc6-arm64"
  fi
  inner_modules="virtio_mmio virtio_blk ext4 crc32c_generic"
  # arm64: the power button is a gpio-keys device (the PL061 driver is built in); evdev gives /dev/input/event*.
  [[ $arch == arm64 ]] && inner_modules="$inner_modules gpio_keys evdev"

  # The inner initramfs.
  local inner inner_hash work
  inner_hash="$( (printf '%s' "$INNER_INIT $inner_modules"; cat "$image" "${BASH_SOURCE[0]}") | sha256sum | cut -c1-16)"
  inner="$CACHE/inner-$arch-$inner_hash.cpio.gz"
  if [[ ! -f $inner ]]; then
    echo "== building the $arch inner initramfs"
    rm -f "$CACHE"/inner-"$arch"-*.cpio.gz
    work="$(mktemp -d)"; temps+=("$work")
    busybox_root "$work" "$busybox"
    copy_modules "$tree" "$work/modules" $inner_modules
    printf '%s\n' "$INNER_INIT" > "$work/init"; chmod +x "$work/init"
    (cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) > "$inner.tmp" && mv "$inner.tmp" "$inner"
  fi

  # The inner VM's config as a user writes it.
  local mem_base=0 kernel_line="" cmdline="console=$console root=/dev/vda rw quiet panic=-1"
  if [[ $arch == arm64 ]]; then mem_base=0x4000_0000; kernel_line="kernel_load_addr = 0x4000_0000"; fi
  inner_toml() { # inner_toml <mode>
    cat <<EOF
[base]
id = 1
name = "debian-rootfs-$arch"
vm_type = 2
cpu_num = 1
arch = "$([[ $arch == amd64 ]] && echo x86_64 || echo aarch64)"
backend = "kvm"
on_reset = "stop"

[kernel]
kernel_path = "/inner/vmlinuz"
$kernel_line
ramdisk_path = "/inner/initrd.cpio.gz"
cmdline = "$cmdline axvisor.e2e=$1"
memory_regions = [[$mem_base, 0x2000_0000, 0x7, 0]]

[devices]
console = "stdout"

[[devices.disks]]
path = "/dev/vda"
serial = "debian-root"

[[devices.disks]]
path = "/dev/vdb"
serial = "scratch"
EOF
  }
  local cases="steps"
  [[ $arch == arm64 ]] && cases="steps powerkey"
  if [[ -n $only_cases ]]; then
    local wanted="" c
    for c in $only_cases; do [[ " $cases " == *" $c "* ]] && wanted="$wanted $c"; done
    cases="${wanted# }"
    [[ -n $cases ]] || { echo "   $arch: none of the cases \"$only_cases\" applies"; return 0; }
  fi

  # The outer initramfs: Bun, our sources, the inner kernel and initramfs, the configs.
  local outer sources_hash
  sources_hash="$( (cd "$ROOT" && cat package.json tsconfig.json bunfig.toml $(find src -name '*.ts' -not -name '*.test.ts' | sort); cat "$inner" "${BASH_SOURCE[0]}"; echo "$cases $timeout_s $bun_exe") | sha256sum | cut -c1-16)"
  outer="$CACHE/outer-$arch-$sources_hash.cpio"
  if [[ ! -f $outer ]]; then
    echo "== building the $arch outer initramfs (Bun + our sources)"
    rm -f "$CACHE"/outer-"$arch"-*.cpio
    work="$(mktemp -d)"; temps+=("$work")
    busybox_root "$work" "$busybox"
    mkdir -p "$work/inner" "$work/axvisor"
    copy_modules "$tree" "$work/modules" $outer_modules
    cp "$image" "$work/inner/vmlinuz"
    cp "$inner" "$work/inner/initrd.cpio.gz"
    for c in $cases; do inner_toml "$c" > "$work/inner/$c.toml"; done
    if [[ $arch == amd64 ]]; then
      initramfs_add_host_bun "$work" "$bun_exe"
    else
      cp "$bun_exe" "$work/bin/bun"
      mkdir -p "$work/lib/aarch64-linux-gnu"
      for lib in ld-linux-aarch64.so.1 libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2; do
        cp -L "$CACHE/x/libc6-arm64/lib/aarch64-linux-gnu/$lib" "$work/lib/aarch64-linux-gnu/"
      done
      ln -s aarch64-linux-gnu/ld-linux-aarch64.so.1 "$work/lib/ld-linux-aarch64.so.1"
    fi
    (cd "$ROOT" && tar cf - package.json tsconfig.json bunfig.toml src "${NPM_DEPS[@]/#/node_modules/}") | tar xf - -C "$work/axvisor"
    cat > "$work/init" <<'EOF'
#!/bin/sh
export PATH=/bin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
while read -r m; do insmod "/modules/$m.ko" 2>/dev/null || echo "AXVISOR-ROOTFS-OUTER: insmod $m failed"; done < /modules/order
i=0; while [ ! -b /dev/vdb ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
[ -c /dev/kvm ] || echo "AXVISOR-ROOTFS-OUTER: no /dev/kvm"
cd /axvisor
for c in CASES; do
  echo "AXVISOR-ROOTFS-CASE $c"
  start=$(date +%s)
  if [ "$c" = powerkey ]; then
    # Ctrl-A R on the CLI's stdin once the guest waits for it, as a user at the console would type it.
    mkfifo /tmp/keys
    ( bun src/cli/main.ts run --stdin /inner/$c.toml < /tmp/keys; echo "AXVISOR-ROOTFS-CLI-EXIT $?" ) 2>&1 | tee /tmp/out &
    exec 3> /tmp/keys
    n=0; while ! grep -q "waiting for the shutdown request" /tmp/out 2>/dev/null && [ $n -lt 1200 ]; do sleep 1; n=$((n + 1)); done
    printf '\001r' >&3
    wait
    status=1
    grep -q "AXVISOR-ROOTFS-E2E: power key pressed" /tmp/out && grep -q "AXVISOR-ROOTFS-CLI-EXIT 0" /tmp/out && status=0
    exec 3>&-
  else
    bun src/cli/main.ts run /inner/$c.toml
    status=$?
  fi
  echo "AXVISOR-ROOTFS-RESULT $c $status $(( $(date +%s) - start ))s"
done
sync
poweroff -f
EOF
    sed -i "s/CASES/$cases/" "$work/init"
    chmod +x "$work/init"
    (cd "$work" && find . | cpio -o -H newc --quiet) > "$outer.tmp" && mv "$outer.tmp" "$outer"
  fi
  echo "   outer initramfs $outer ($(du -h "$outer" | cut -f1))"
  [[ $build_only -eq 1 ]] && { check "$arch build" 1 "kernel, rootfs $rootfs, initramfs images"; return 0; }

  # A sparse copy of the rootfs with the e2e unit in it, and a fully allocated scratch disk.
  local run disk scratch
  run="$(mktemp -d "$CACHE/run-$arch.XXXXXX")"; temps+=("$run")
  disk="$run/rootfs.ext4"; scratch="$run/scratch.img"
  cp --sparse=always "$rootfs" "$disk"
  printf '%s\n' "$E2E_SCRIPT" > "$run/axvisor-e2e"; chmod 0755 "$run/axvisor-e2e"
  printf '%s\n' "$E2E_UNIT" > "$run/axvisor-e2e.service"
  debugfs -w -f - "$disk" >/dev/null 2>"$run/debugfs.log" <<EOF || die "debugfs could not add the e2e unit to $disk"
mkdir /usr/local/sbin
write $run/axvisor-e2e /usr/local/sbin/axvisor-e2e
write $run/axvisor-e2e.service /etc/systemd/system/axvisor-e2e.service
mkdir /etc/systemd/system/multi-user.target.wants
symlink /etc/systemd/system/multi-user.target.wants/axvisor-e2e.service /etc/systemd/system/axvisor-e2e.service
EOF
  debugfs -R "stat /usr/local/sbin/axvisor-e2e" "$disk" 2>/dev/null | grep -q "Mode:  0755" || die "the e2e script is not in $disk with mode 0755 ($(cat "$run/debugfs.log"))"
  head -c $((32 << 20)) /dev/zero | tr '\0' '\132' > "$scratch"
  local rootfs_before scratch_before
  rootfs_before="$(allocated "$disk")"; scratch_before="$(allocated "$scratch")"

  local log="$CACHE/run-$arch.log" started qemu_status elapsed
  echo "== booting $arch (TCG, nested KVM; budget ${timeout_s}s; log $log)"
  started=$(date +%s)
  set +e
  local kernel_arg=(-kernel "$image")
  timeout "$timeout_s" "${qemu[@]}" -nodefaults -no-user-config -nographic -serial stdio "${kernel_arg[@]}" \
    -initrd "$outer" -append "console=$console quiet panic=-1" -no-reboot \
    -drive "file=$disk,if=none,id=root,format=raw,discard=unmap" -device virtio-blk-pci,drive=root \
    -drive "file=$scratch,if=none,id=scratch,format=raw,discard=unmap" -device virtio-blk-pci,drive=scratch \
    </dev/null >"$log" 2>&1
  qemu_status=$?
  set -e
  elapsed=$(( $(date +%s) - started ))
  grep -a -E "AXVISOR-ROOTFS|axvisor|Kernel panic" "$log" | tr -d '\r' | tail -n 30

  local clean line status took rootfs_after scratch_after text trimmed
  clean="$(tr -d '\r' < "$log")"
  line="$(grep -a "AXVISOR-ROOTFS-RESULT steps " <<<"$clean" | tail -1 || true)"
  status="$(awk '{print $3}' <<<"$line")"; took="$(awk '{print $4}' <<<"$line")"
  local state_line
  state_line="$(grep -a "AXVISOR-ROOTFS-E2E: system " <<<"$clean" | head -1 | sed 's/.*AXVISOR-ROOTFS-E2E: //' || true)"
  if [[ " $cases " == *" steps "* ]]; then
  check "$arch boot" "$([[ $status == 0 && $state_line == *"multi-user.target active"* ]] && echo 1 || echo 0)" \
    "CLI exit ${status:-none} after ${took:-?}; guest: ${state_line:-no report}"
  text="$(debugfs -R "cat /root/axvisor-e2e.txt" "$disk" 2>/dev/null || true)"
  check "$arch file" "$([[ $text == "written by "* ]] && echo 1 || echo 0)" "/root/axvisor-e2e.txt in the image: ${text:-missing}"
  rootfs_after="$(allocated "$disk")"; scratch_after="$(allocated "$scratch")"
  trimmed="$(grep -a "AXVISOR-ROOTFS-E2E: fstrim:" <<<"$clean" | head -1 | sed 's/.*fstrim: //' || true)"
  local grew=$(( rootfs_after - rootfs_before ))
  check "$arch fstrim" "$([[ $trimmed == *trimmed* && $grew -lt $((24 << 20)) ]] && echo 1 || echo 0)" \
    "guest: ${trimmed:-no report}; rootfs copy allocated $(mib "$rootfs_before") -> $(mib "$rootfs_after") after 48 MiB written and deleted"
  check "$arch blkdiscard" "$([[ $scratch_after -lt $((1 << 20)) ]] && echo 1 || echo 0)" \
    "scratch image allocated $(mib "$scratch_before") -> $((scratch_after / 1024)) KiB"
  fi
  if [[ $cases == *powerkey* ]]; then
    line="$(grep -a "AXVISOR-ROOTFS-RESULT powerkey " <<<"$clean" | tail -1 || true)"
    status="$(awk '{print $3}' <<<"$line")"; took="$(awk '{print $4}' <<<"$line")"
    local sent
    sent="$(grep -a "Ctrl-A R: " <<<"$clean" | tail -1 | sed 's/.*Ctrl-A R: //' || true)"
    check "$arch powerkey" "$([[ $status == 0 ]] && echo 1 || echo 0)" "Ctrl-A R: ${sent:-not seen}; exit ${status:-none} after ${took:-?}"
  fi
  echo "   $arch: qemu exit $qemu_status after ${elapsed}s (outer boot + every case); log $log"
}

for arch in $arches; do run_arch "$arch"; done
finish
