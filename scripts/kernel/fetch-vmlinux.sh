#!/usr/bin/env bash
# Install Debian's debug vmlinux for the 6.1 kernel whose source prepare.sh uses
# (linux-image-6.1.0-N-amd64-dbg, ~860 MB download, ~5.6 GB installed) and print its path.
# Not part of the default test run.
#
# The package is the linux-image-6.1.0-*-amd64-dbg whose version equals the
# candidate version of linux-source-6.1 (so vmlinux and the source tree match);
# when none does, the newest 6.1.0-*-amd64-dbg is taken.
#
# Environment:
#   TDX_VMLINUX_PKG        exact package name to install instead of the one found
#   TDX_VMLINUX_MIN_FREE_GB  refuse to install with less free space in /usr/lib/debug (default 20)
#
# Output: progress on stdout; the LAST line is the vmlinux path.
set -euo pipefail

log() { printf '[fetch-vmlinux] %s\n' "$*"; }
die() { printf '[fetch-vmlinux] ERROR: %s\n' "$*" >&2; exit 1; }

MIN_FREE_GB=${TDX_VMLINUX_MIN_FREE_GB:-20}
t0=$(date +%s.%N)

pick_package() {
  local want cands p best="" bestver=""
  want=$(apt-cache policy linux-source-6.1 | awk '/Candidate:/{print $2}')
  cands=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-dbg$' | awk '{print $1}')
  [[ -n $cands ]] || die "no linux-image-6.1.0-*-amd64-dbg package known to apt (apt-get update?)"
  for p in $cands; do
    local v; v=$(apt-cache policy "$p" | awk '/Candidate:/{print $2}')
    if [[ -n $want && $v == "$want" ]]; then echo "$p"; return; fi
    if [[ -z $bestver ]] || dpkg --compare-versions "$v" gt "$bestver"; then best=$p; bestver=$v; fi
  done
  echo "$best"
}

PKG=${TDX_VMLINUX_PKG:-}
if [[ -z $PKG ]]; then
  if [[ $(id -u) == 0 ]]; then
    apt-get -o DPkg::Lock::Timeout=600 update >/dev/null
  fi
  PKG=$(pick_package)
fi
log "package: $PKG ($(apt-cache policy "$PKG" | awk '/Candidate:/{print $2}'))"

if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'install ok installed'; then
  log "already installed"
else
  [[ $(id -u) == 0 ]] || die "$PKG is not installed; run as root"
  mkdir -p /usr/lib/debug
  free_gb=$(df -BG --output=avail /usr/lib/debug | tail -n1 | tr -dc 0-9)
  ((free_gb > MIN_FREE_GB)) || die "only ${free_gb} GB free for /usr/lib/debug (need > ${MIN_FREE_GB} GB)"
  log "installing (${free_gb} GB free)..."
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$PKG" \
    | tail -n 3
fi

VMLINUX=$(dpkg -L "$PKG" | grep -E '^/usr/lib/debug/boot/vmlinux-' | head -n1 || true)
[[ -n $VMLINUX && -f $VMLINUX ]] || die "no /usr/lib/debug/boot/vmlinux-* in $PKG"
sections=$(readelf -S -W "$VMLINUX")
grep -q ' \.debug_info ' <<<"$sections" || die "$VMLINUX has no .debug_info"
ver=$( (readelf --debug-dump=info "$VMLINUX" 2>/dev/null || true) | awk '/^ +Version:/{print $2; exit}')
log "vmlinux: $(du -h "$VMLINUX" | cut -f1), DWARF version ${ver:-?}"
log "time: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s"
echo "$VMLINUX"
