#!/usr/bin/env bash
# Audit a whole Debian kernel: every .c of linux-source-<series> joined with the
# -dbg package's vmlinux and all its modules (full DWARF, the kernel real TDX
# guests boot). Not part of the default test run; writes nothing into the repository.
#
#   sudo scripts/kernel/distro.sh            # 6.1 (bookworm)
#   sudo TDX_DISTRO_SERIES=6.12 scripts/kernel/distro.sh
#   scripts/kernel/distro.sh --print         # only print the commands it would run
#
# Steps (each timed):
#   1. packages  apt-get install linux-source-<series> and the
#                linux-image-<abi>-amd64-dbg whose version equals linux-source's
#                (root only; skipped when installed). 6.1: ~860 MB download, 5.6 GB installed.
#   2. extract   /usr/src/linux-source-<series>.tar.xz -> $TDX_KERNEL_DIR/distro-<series>/linux-source-<series>
#                (skipped when the stamp names the installed version)
#   3. report    node dist/cli.js report <tree> --vmlinux /usr/lib/debug/boot/vmlinux-<abi>-amd64
#                  --objects /usr/lib/debug/lib/modules/<abi>-amd64/kernel --out $OUT
#                under /usr/bin/time -v (wall time and peak RSS are printed)
#
# Environment:
#   TDX_DISTRO_SERIES   6.1 (default) or 6.12
#   TDX_KERNEL_DIR      where trees go (default /var/tmp/tdx-audit-kernel)
#   TDX_DISTRO_OUT      report folder (default $TDX_KERNEL_DIR/report-<series>)
#   TDX_DISTRO_FORMATS  report formats (default json,markdown)
#   TDX_DISTRO_SCOPE    a folder under the tree to audit instead of all of it (e.g. drivers/ata)
#   TDX_DISTRO_PROFILE  --profile (default tdx-linux-6.1 for 6.1, tdx-linux-6.12+ for 6.12)
#   TDX_DISTRO_JOBS     --jobs: threads auditing files (default: one per core)
#
# $OUT/time.txt gets /usr/bin/time -v's figures and the load average before and
# after (the machine may be shared: compare user+sys CPU, not wall time, then).
#
# The last stdout line is the report folder.
set -euo pipefail

HERE=$(cd "$(dirname "$0")/../.." && pwd)
SERIES=${TDX_DISTRO_SERIES:-6.1}
KDIR_BASE=${TDX_KERNEL_DIR:-/var/tmp/tdx-audit-kernel}
# A tree of its own: prepare.sh's tree holds objects built with another config, which
# would be read as the .o beside their sources instead of the package's modules.
TREE="$KDIR_BASE/distro-$SERIES/linux-source-$SERIES"
OUT=${TDX_DISTRO_OUT:-$KDIR_BASE/report-$SERIES}
FORMATS=${TDX_DISTRO_FORMATS:-json,markdown}
SCOPE=${TDX_DISTRO_SCOPE:-}
case "$SERIES" in
  6.1) PROFILE=${TDX_DISTRO_PROFILE:-tdx-linux-6.1} ;;
  6.12) PROFILE=${TDX_DISTRO_PROFILE:-tdx-linux-6.12+} ;;
  *) echo "[distro] TDX_DISTRO_SERIES is 6.1 or 6.12, not $SERIES" >&2; exit 2 ;;
esac
PRINT=0
[[ ${1:-} == --print ]] && PRINT=1

log() { printf '[distro] %s\n' "$*"; }
die() { printf '[distro] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# The -dbg image package of the same version as linux-source-<series> (so vmlinux,
# modules and sources are one build); the newest one when none matches.
pick_dbg() {
  local want cands
  want=$(dpkg-query -W -f='${Version}' "linux-source-$SERIES" 2>/dev/null || apt-cache policy "linux-source-$SERIES" | awk '/Candidate:/{print $2}')
  # 6.1: linux-image-6.1.0-57-amd64-dbg; 6.12: linux-image-6.12.111+deb12-amd64-dbg (not the meta package, not cloud/rt).
  cands=$(apt-cache search --names-only "^linux-image-${SERIES//./\\.}\\.[0-9]+(-[0-9]+|\\+[a-z0-9]+)-amd64-dbg\$" | awk '{print $1}')
  [[ -n $cands ]] || die "no linux-image-$SERIES.*-amd64-dbg package known to apt (apt-get update? is the release's -security or -backports source configured?)"
  # One apt-cache call for all candidates (one call per package takes a minute): "name version" lines.
  local table hit
  # shellcheck disable=SC2086
  table=$(apt-cache policy $cands | awk '/^[^ ]/{sub(":$","",$1); p=$1} /Candidate:/{print p, $2}')
  hit=$(awk -v want="$want" '$2 == want {print $1; exit}' <<<"$table")
  if [[ -n $hit ]]; then echo "$hit"; else newest_of <<<"$table"; fi
}

# The package of the newest version among "name version" lines on stdin.
newest_of() {
  local best="" bestver="" p v
  while read -r p v; do
    [[ -n $p ]] || continue
    if [[ -z $bestver ]] || dpkg --compare-versions "$v" gt "$bestver"; then best=$p; bestver=$v; fi
  done
  echo "$best"
}

t0=$(now)
if [[ $PRINT == 0 ]] && ! installed "linux-source-$SERIES"; then
  [[ $(id -u) == 0 ]] || die "linux-source-$SERIES is not installed; run as root"
  apt-get -o DPkg::Lock::Timeout=600 update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "linux-source-$SERIES" | tail -n 2
fi
PKG=${TDX_DISTRO_DBG_PKG:-$(pick_dbg)}
ABI=${PKG#linux-image-}
ABI=${ABI%-dbg}
VMLINUX=/usr/lib/debug/boot/vmlinux-$ABI
MODULES=/usr/lib/debug/lib/modules/$ABI/kernel
log "source: linux-source-$SERIES $(dpkg-query -W -f='${Version}' "linux-source-$SERIES" 2>/dev/null || echo '(not installed)')"
log "debug package: $PKG $(apt-cache policy "$PKG" | awk '/Candidate:/{print $2}')"

TARGET=$TREE${SCOPE:+/$SCOPE}
REPORT=(node "$HERE/dist/cli.js" report "$TARGET" --vmlinux "$VMLINUX" --objects "$MODULES"
  --out "$OUT" --format "$FORMATS" --force --profile "$PROFILE" --exit-zero ${TDX_DISTRO_JOBS:+--jobs "$TDX_DISTRO_JOBS"})
if [[ $PRINT == 1 ]]; then
  echo "apt-get install linux-source-$SERIES $PKG"
  echo "tar -C $(dirname "$TREE") -xaf /usr/src/linux-source-$SERIES.tar.xz"
  printf '%q ' /usr/bin/time -v "${REPORT[@]}"; echo
  exit 0
fi

if installed "$PKG"; then
  log "$PKG already installed"
else
  [[ $(id -u) == 0 ]] || die "$PKG is not installed; run as root"
  free_gb=$(df -BG --output=avail /usr/lib | tail -n1 | tr -dc 0-9)
  ((free_gb > 12)) || die "only ${free_gb} GB free under /usr/lib (the package takes ~6 GB)"
  log "installing $PKG (${free_gb} GB free)..."
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$PKG" | tail -n 2
fi
[[ -f $VMLINUX ]] || die "$VMLINUX is missing from $PKG"
[[ -d $MODULES ]] || die "$MODULES is missing from $PKG"
log "packages: $(since "$t0") s; vmlinux $(du -h "$VMLINUX" | cut -f1), $(find "$MODULES" -name '*.ko' | wc -l) modules"

t1=$(now)
TARBALL=/usr/src/linux-source-$SERIES.tar.xz
want=$(dpkg-query -W -f='${Version}' "linux-source-$SERIES")
if [[ -f $TREE/.tdx-audit-extracted && $(cat "$TREE/.tdx-audit-extracted") == "$want" ]]; then
  log "tree $TREE is linux-source-$SERIES $want"
else
  mkdir -p "$(dirname "$TREE")"
  tmp=$(mktemp -d "$(dirname "$TREE")/extract.XXXXXX")
  tar -C "$tmp" -xaf "$TARBALL"
  rm -rf "$TREE"
  mv "$tmp/linux-source-$SERIES" "$TREE"
  rmdir "$tmp"
  echo "$want" >"$TREE/.tdx-audit-extracted"
  log "extracted $TARBALL in $(since "$t1") s"
fi

[[ -f $HERE/dist/cli.js ]] || (cd "$HERE" && npm run build >/dev/null)
mkdir -p "$OUT"
t2=$(now)
log "running: ${REPORT[*]}"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
/usr/bin/time -v -o "$OUT/time.txt" "${REPORT[@]}" 2> >(tee "$OUT/stderr.txt" | tail -n 20 >&2)
printf '\tLoad average at start: %s\n\tLoad average at end: %s\n' "$load0" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/time.txt"
log "report: $(since "$t2") s wall, $(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{printf "%.0f", u+s}' "$OUT/time.txt") s CPU (user+sys), peak RSS $(awk -F': ' '/Maximum resident/{printf "%.0f MB", $2/1024}' "$OUT/time.txt"), load $load0 -> $(cut -d' ' -f1-3 /proc/loadavg)"
log "total: $(since "$t0") s"
echo "$OUT"
