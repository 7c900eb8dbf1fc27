# Sourced by the nested-KVM scripts (scripts/kvm-x86-nested.sh, scripts/e2e/{20,50,60,70}-*.sh): pieces of the
# initramfs images they boot in QEMU.

# initramfs_add_host_bun <dir> <bun executable>: /bin/bun plus the host shared libraries it links, at the paths its
# loader expects (an x86_64 host's Bun in an x86_64 guest; the arm64 guests bring Debian's arm64 C library instead).
initramfs_add_host_bun() {
  local dir="$1" bun_exe="$2" lib
  mkdir -p "$dir/bin" "$dir/lib64"
  cp "$bun_exe" "$dir/bin/bun"
  ldd "$bun_exe" | awk '/=>/ { print $3 } /ld-linux/ { print $1 }' | while read -r lib; do
    [[ -f $lib ]] || continue
    mkdir -p "$dir$(dirname "$lib")"
    cp -L "$lib" "$dir$lib"
  done
  if [[ -f /lib64/ld-linux-x86-64.so.2 ]]; then cp -L /lib64/ld-linux-x86-64.so.2 "$dir/lib64/"; fi
}

# kernel_module <module dir> <name>: the module's bytes on stdout, decompressed if the package ships it compressed
# (.ko.xz, .ko.zst); status 1, printing nothing, when no file of that name is under <module dir>.
kernel_module() {
  local found
  found="$(find "$1" -name "$2.ko*" | head -1)"
  [[ -n $found ]] || return 1
  case "$found" in
    *.xz) xz -dc "$found" ;;
    *.zst) zstd -dc "$found" ;;
    *) cat "$found" ;;
  esac
}
