#!/usr/bin/env bash
# Fetch and prepare a real Linux tree (Debian's linux-source-6.1 or linux-source-6.12)
# for tdx-audit's real-world checks and benchmarks. Not part of the default test run.
#
#   scripts/kernel/prepare.sh            # 6.1 (the default)
#   scripts/kernel/prepare.sh 6.12       # 6.12 (or TDX_KERNEL_SERIES=6.12)
#
# Phases (each timed, each skipped when already done):
#   1. install   apt packages (root only; skipped when all are installed)
#   2. extract   /usr/src/linux-source-<series>.tar.xz -> $TDX_KERNEL_DIR/linux-source-<series>
#   3. config    Debian amd64 config + TDX guest + DWARF5, olddefconfig, make prepare
#   4. build     the driver objects the benchmarks audit (make -j$JOBS <obj>...)
#   5. compdb    compile_commands.json for the built objects (gen_compile_commands.py)
#   6. verify    every object exists and has .debug_info; summary table
#
# Environment:
#   TDX_KERNEL_SERIES   6.1 (default) or 6.12; the first argument wins
#   TDX_KERNEL_DIR      where the tree goes (default /var/tmp/tdx-audit-kernel)
#   TDX_KERNEL_JOBS     make -j value (default: nproc)
#   TDX_KERNEL_VERBOSE  1 = stream make output instead of logging it to $TDX_KERNEL_DIR/logs
#
# Output: progress and a summary on stdout; the LAST line of stdout is the tree path,
# so other scripts can do:  TREE=$(scripts/kernel/prepare.sh | tail -n1)
# Nothing here writes into the repository.
set -euo pipefail

SERIES=${1:-${TDX_KERNEL_SERIES:-6.1}}
case "$SERIES" in
  6.1 | 6.12) ;;
  *) printf '[prepare] ERROR: the series is 6.1 or 6.12, not %s\n' "$SERIES" >&2; exit 2 ;;
esac
KDIR_BASE=${TDX_KERNEL_DIR:-/var/tmp/tdx-audit-kernel}
TREE="$KDIR_BASE/linux-source-$SERIES"
# 6.1 keeps its historical log folder; other series log apart so runs do not mix.
LOGDIR="$KDIR_BASE/logs"
[[ $SERIES == 6.1 ]] || LOGDIR="$KDIR_BASE/logs-$SERIES"
JOBS=${TDX_KERNEL_JOBS:-$(nproc)}
VERBOSE=${TDX_KERNEL_VERBOSE:-0}
TARBALL=/usr/src/linux-source-$SERIES.tar.xz
DEBCONFIG=/usr/src/linux-config-$SERIES/config.amd64_none_amd64.xz

PACKAGES=(
  "linux-source-$SERIES" "linux-config-$SERIES"
  build-essential flex bison bc libelf-dev libssl-dev dwarves xz-utils python3
  coccinelle ripgrep
)

# Objects the benchmarks use. Each is a single kbuild target; works whether the
# owning driver is =y or =m in Debian's config.
OBJECTS_6_1=(
  drivers/ata/libahci.o
  arch/x86/kernel/apic/io_apic.o
  drivers/pci/msi/msi.o
  arch/x86/pci/mmconfig_64.o
  lib/iomap.o
  drivers/watchdog/iTCO_wdt.o
  drivers/net/ethernet/intel/e1000e/netdev.o
  drivers/net/ethernet/intel/e1000e/ich8lan.o
  drivers/net/ethernet/intel/e1000e/mac.o
  drivers/net/ethernet/intel/e1000e/nvm.o
  drivers/net/ethernet/intel/e1000e/phy.o
  drivers/net/ethernet/intel/e1000e/manage.o
  drivers/net/ethernet/intel/e1000e/80003es2lan.o
  drivers/net/ethernet/intel/e1000e/82571.o
  drivers/net/ethernet/intel/e1000e/ethtool.o
  drivers/net/ethernet/intel/e1000e/param.o
  drivers/net/ethernet/intel/e1000e/ptp.o
)

# 6.12: the raw-__iomem drivers of the 6.1 real-object check, callers of
# __iowrite32_copy, which 6.10+ inlines as `rep ; movsl` (arch/x86/include/asm/io.h),
# and an iowrite64 user (io-64-nonatomic-lo-hi.h makes it a call of iowrite64_lo_hi).
OBJECTS_6_12=(
  drivers/atm/iphase.o
  drivers/acpi/acpi_extlog.o
  drivers/scsi/hptiop.o
  drivers/net/ethernet/broadcom/bnxt/bnxt_hwrm.o
  drivers/net/wireless/mediatek/mt76/mmio.o
  drivers/infiniband/hw/bnxt_re/qplib_rcfw.o
  drivers/net/wwan/iosm/iosm_ipc_mmio.o
)
if [[ $SERIES == 6.1 ]]; then OBJECTS=("${OBJECTS_6_1[@]}"); else OBJECTS=("${OBJECTS_6_12[@]}"); fi
# TDX_KERNEL_OBJECTS (space-separated) replaces the list.
[[ -z ${TDX_KERNEL_OBJECTS:-} ]] || read -r -a OBJECTS <<<"$TDX_KERNEL_OBJECTS"

# Config changes on top of Debian's config. Changing this list re-runs phase 3.
CONFIG_ARGS=(
  --enable INTEL_TDX_GUEST
  --disable DEBUG_INFO_NONE
  --disable DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT
  --disable DEBUG_INFO_DWARF4
  --enable DEBUG_INFO_DWARF5
  --set-str SYSTEM_TRUSTED_KEYS ""
  --set-str SYSTEM_REVOCATION_KEYS ""
  --disable MODULE_SIG_ALL
)

log() { printf '[prepare] %s\n' "$*"; }
die() { printf '[prepare] ERROR: %s\n' "$*" >&2; exit 1; }

declare -a PHASE_NAMES=() PHASE_TIMES=() PHASE_NOTES=()
phase_start() { PHASE_T0=$(date +%s.%N); log "== $1"; }
phase_end() { # name note
  local t1; t1=$(date +%s.%N)
  local dt; dt=$(awk -v a="$PHASE_T0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
  PHASE_NAMES+=("$1"); PHASE_TIMES+=("$dt"); PHASE_NOTES+=("$2")
  log "   $1: ${dt}s ($2)"
}

# run_logged NAME cmd... : run a command, output to $LOGDIR/NAME.log (or the terminal
# when TDX_KERNEL_VERBOSE=1); on failure show the log's tail.
run_logged() {
  local name=$1; shift
  if [[ $VERBOSE == 1 ]]; then
    "$@"
    return
  fi
  mkdir -p "$LOGDIR"
  if ! "$@" >"$LOGDIR/$name.log" 2>&1; then
    printf '[prepare] command failed: %s\n[prepare] last 40 lines of %s:\n' "$*" "$LOGDIR/$name.log" >&2
    tail -n 40 "$LOGDIR/$name.log" >&2
    exit 1
  fi
}

T_ALL=$(date +%s.%N)

# ---------------------------------------------------------------- 1. install
phase_start install
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || die "missing packages (${missing[*]}); run as root or install them first"
  log "   installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  run_logged apt-update apt-get -o DPkg::Lock::Timeout=600 update
  run_logged apt-install apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"
  phase_end install "installed ${#missing[@]} package(s)"
else
  phase_end install "all ${#PACKAGES[@]} packages present"
fi
[[ -f $TARBALL ]] || die "$TARBALL not found (linux-source-$SERIES installed?)"
[[ -f $DEBCONFIG ]] || die "$DEBCONFIG not found (linux-config-$SERIES installed?)"
SRC_VERSION=$(dpkg-query -W -f='${Version}' "linux-source-$SERIES")

# ---------------------------------------------------------------- 2. extract
phase_start extract
EXTRACT_STAMP="$TREE/.tdx-audit-extracted"
if [[ -f $EXTRACT_STAMP && $(cat "$EXTRACT_STAMP") == "$SRC_VERSION" ]]; then
  phase_end extract "already extracted (linux-source-$SERIES $SRC_VERSION)"
else
  mkdir -p "$KDIR_BASE"
  if [[ -d $TREE ]]; then
    log "   removing stale/incomplete tree $TREE (stamp: $(cat "$EXTRACT_STAMP" 2>/dev/null || echo none), package: $SRC_VERSION)"
    rm -rf "$TREE"
  fi
  tmp="$KDIR_BASE/.extract-$SERIES.tmp"
  rm -rf "$tmp"; mkdir -p "$tmp"
  tar -C "$tmp" -xJf "$TARBALL"
  [[ -d $tmp/linux-source-$SERIES ]] || die "tarball did not contain linux-source-$SERIES/"
  mv "$tmp/linux-source-$SERIES" "$TREE"
  rmdir "$tmp"
  echo "$SRC_VERSION" >"$EXTRACT_STAMP"
  phase_end extract "extracted linux-source-$SERIES $SRC_VERSION"
fi

# ---------------------------------------------------------------- 3. config + prepare
phase_start config
cd "$TREE"
CONFIG_STAMP="$TREE/.tdx-audit-prepared"
config_sig=$(printf '%s\n' "$SRC_VERSION" "$(sha256sum "$DEBCONFIG" | cut -d' ' -f1)" \
  "$(gcc --version | head -n1)" "${CONFIG_ARGS[@]}" | sha256sum | cut -d' ' -f1)
if [[ -f $CONFIG_STAMP && $(cat "$CONFIG_STAMP") == "$config_sig" && -f .config \
      && -f include/generated/autoconf.h ]]; then
  phase_end config "already configured and prepared"
else
  rm -f "$CONFIG_STAMP"
  xz -dc "$DEBCONFIG" >.config
  scripts/config "${CONFIG_ARGS[@]}"
  run_logged olddefconfig make olddefconfig
  # BTF needs pahole >= 1.21 together with DWARF5; it only matters for the vmlinux /
  # .ko link (never done here), so drop it if Kconfig or the toolchain would block.
  if grep -q '^CONFIG_DEBUG_INFO_BTF=y' .config && ! command -v pahole >/dev/null; then
    log "   pahole not found: disabling DEBUG_INFO_BTF"
    scripts/config --disable DEBUG_INFO_BTF
    run_logged olddefconfig2 make olddefconfig
  fi
  for want in CONFIG_INTEL_TDX_GUEST=y CONFIG_DEBUG_INFO_DWARF5=y CONFIG_DEBUG_INFO=y; do
    grep -qx "$want" .config || die "$want not set after olddefconfig (see $TREE/.config)"
  done
  grep -qx 'CONFIG_SYSTEM_TRUSTED_KEYS=""' .config || die "SYSTEM_TRUSTED_KEYS not cleared"
  run_logged prepare make -j"$JOBS" prepare
  echo "$config_sig" >"$CONFIG_STAMP"
  phase_end config "olddefconfig + make prepare"
fi
log "   .config: $(grep -E '^CONFIG_(INTEL_TDX_GUEST|DEBUG_INFO_DWARF5|DEBUG_INFO_BTF)=' .config | tr '\n' ' ')"

# ---------------------------------------------------------------- 4. build objects
phase_start build
n_before=0
for o in "${OBJECTS[@]}"; do [[ -f $o ]] && n_before=$((n_before + 1)); done
# Every object is its own single-object target. kbuild quirk: arch/x86/pci/ is
# reached both via arch/x86/ and via drivers-y += arch/x86/pci/, so its objects
# are compiled twice per make run (with different -DKBUILD_MODFILE; the second,
# correct one wins) - in parallel under -j2, racing on the same .o. So those go
# through their own make -j1 after the parallel run of all the others.
par=() seq=()
for o in "${OBJECTS[@]}"; do
  if [[ $o == arch/x86/pci/* ]]; then seq+=("$o"); else par+=("$o"); fi
done
((${#par[@]} == 0)) || run_logged build make -j"$JOBS" "${par[@]}"
((${#seq[@]} == 0)) || run_logged build-x86pci make -j1 "${seq[@]}"
phase_end build "${#OBJECTS[@]} objects, $n_before existed before"

# ---------------------------------------------------------------- 5. compile_commands.json
# `make compile_commands.json` needs a full build (vmlinux.a + modules.order);
# gen_compile_commands.py without file arguments walks the tree for the .cmd
# files that the objects built above left, which is all we need.
phase_start compdb
run_logged compdb python3 scripts/clang-tools/gen_compile_commands.py -d "$TREE" -o "$TREE/compile_commands.json"
missing_cc=()
for o in "${OBJECTS[@]}"; do
  src="$TREE/${o%.o}.c"
  grep -qF "\"file\": \"$src\"" compile_commands.json || missing_cc+=("$o")
done
((${#missing_cc[@]} == 0)) || die "compile_commands.json lacks entries for: ${missing_cc[*]}"
n_entries=$(grep -c '"file":' compile_commands.json)
phase_end compdb "$n_entries entries, all ${#OBJECTS[@]} objects covered"

# ---------------------------------------------------------------- 6. verify + summary
phase_start verify
fail=0
summary=$(mktemp)
printf '%-46s %8s %10s %6s %6s\n' object src_lines obj_bytes dwarf cfg >"$summary"
for o in "${OBJECTS[@]}"; do
  src=${o%.o}.c
  lines=$(wc -l <"$src" 2>/dev/null || echo '?')
  if [[ ! -f $o ]]; then
    printf '%-46s %8s %10s %6s %6s\n' "$o" "$lines" MISSING - - >>"$summary"; fail=1; continue
  fi
  size=$(stat -c %s "$o")
  # capture first: `readelf | grep -q` can die of SIGPIPE under pipefail
  sections=$(readelf -S -W "$o")
  if ! grep -q ' \.debug_info ' <<<"$sections"; then
    printf '%-46s %8s %10s %6s %6s\n' "$o" "$lines" "$size" NO-DBG - >>"$summary"; fail=1; continue
  fi
  # first CU header's "Version:"; (... || true) keeps pipefail quiet on SIGPIPE
  ver=$( (readelf --debug-dump=info "$o" 2>/dev/null || true) | awk '/^ +Version:/{print $2; exit}')
  [[ $ver == 5 ]] || fail=1
  # =y or =m: kbuild flags module objects with -DMODULE in their .cmd file
  cmdf="$(dirname "$o")/.$(basename "$o").cmd"
  kind=y; grep -qE -- '-DMODULE( |$)' "$cmdf" 2>/dev/null && kind=m
  # the .cmd (and so compile_commands.json) must hold the object's own command
  modfile=$(grep -o "KBUILD_MODFILE='\"[^\"]*" "$cmdf" 2>/dev/null | head -n1 | sed "s/.*'\"//" || true)
  if [[ -n $modfile && $(dirname "$modfile") != "$(dirname "$o")" ]]; then
    log "   $o: .cmd has KBUILD_MODFILE=$modfile (from the wrong directory)"; fail=1
  fi
  printf '%-46s %8s %10s %6s %6s\n' "$o" "$lines" "$size" "${ver:-?}" "$kind" >>"$summary"
done
phase_end verify "$([[ $fail == 0 ]] && echo ok || echo FAILED)"

echo
echo "Objects (src_lines = wc -l of the .c; dwarf = .debug_info CU version; cfg = built as =y or =m):"
cat "$summary"; rm -f "$summary"
total=$(awk -v a="$T_ALL" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
echo
echo "Phase times:"
for i in "${!PHASE_NAMES[@]}"; do
  printf '  %-8s %7ss  %s\n' "${PHASE_NAMES[$i]}" "${PHASE_TIMES[$i]}" "${PHASE_NOTES[$i]}"
done
printf '  %-8s %7ss\n' total "$total"
echo "Disk: $(du -sh "$KDIR_BASE" 2>/dev/null | cut -f1) in $KDIR_BASE"
echo "compile_commands.json: $TREE/compile_commands.json"
[[ $fail == 0 ]] || die "some objects are missing, lack .debug_info, or are not DWARF 5"
echo "$TREE"
