# Sourced by the build and end-to-end scripts: where guest images and other slow-to-build pieces are kept.
#
# They live OUTSIDE the clone, in $AXVISOR_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/axvisor-ts), so a fresh clone
# (CI's) reuses what an earlier run built instead of rebuilding kernels every time. Inside the clone,
# .cache/<name> is a symlink to $AXVISOR_CACHE/<name>, so configs can name images by a path relative to the
# repository (configs/linux-riscv64.toml: ../.cache/linux-riscv64/current/Image). Entries are keyed by their
# inputs by the scripts that fill them; deleting the folder only costs a rebuild.

AXVISOR_CACHE="${AXVISOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/axvisor-ts}"

# cache_dir <root> <name>: create $AXVISOR_CACHE/<name>, point <root>/.cache/<name> at it, print its path.
cache_dir() {
  local root="$1" name="$2"
  local outside="$AXVISOR_CACHE/$name" inside="$1/.cache/$2"
  mkdir -p "$outside" "$(dirname "$inside")"
  # <root>/.cache may itself lead into $AXVISOR_CACHE (a worktree sharing another clone's cache): then <inside> is
  # <outside>, and replacing it below would delete the cache and leave a link to itself.
  if [[ "$(realpath -m "$inside")" == "$(realpath -m "$outside")" ]]; then
    printf '%s\n' "$outside"
    return
  fi
  if [[ -L $inside ]]; then
    [[ "$(readlink "$inside")" == "$outside" ]] || ln -sfn "$outside" "$inside"
  else
    # An old in-clone cache folder (before the cache moved out) is dropped: it is only a cache.
    rm -rf "$inside"
    ln -s "$outside" "$inside"
  fi
  printf '%s\n' "$outside"
}
