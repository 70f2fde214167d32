#!/usr/bin/env bash
# Installs the Debian kernel source packages the oracle test (test/unit/x86/oracle.test.ts,
# scripts/kernel/oracle.mjs) reads at run time: /usr/src/linux-source-6.1.tar.xz and
# /usr/src/linux-source-6.12.tar.xz (bookworm-security ships both). Needs root; waits for
# another apt/dpkg run to finish instead of failing on its lock. Nothing is extracted here
# and nothing is written into the repository.
set -euo pipefail
pkgs=()
for s in 6.1 6.12; do
  [ -f "/usr/src/linux-source-$s.tar.xz" ] || pkgs+=("linux-source-$s")
done
command -v cc >/dev/null || pkgs+=(gcc libc6-dev)
command -v awk >/dev/null || pkgs+=(gawk)
if [ ${#pkgs[@]} -eq 0 ]; then
  echo "kernel sources for the oracle: already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-sources.sh: run as root to install ${pkgs[*]}" >&2
  exit 1
fi
apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${pkgs[@]}"
