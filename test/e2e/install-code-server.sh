#!/usr/bin/env bash
# Installs code-server 4.100.3 (VS Code 1.100.3, the newest that runs on Node 20) into
# a cache folder without network access beyond the npm registry: @vscode/ripgrep's
# install step downloads from GitHub, so scripts are skipped and Debian's rg is linked
# in instead (see ../shared/docs/editor-e2e.md). Needs rg, and for the native modules
# libkrb5-dev, pkg-config and a C++ toolchain.
# Usage: test/e2e/install-code-server.sh [prefix]   (default: $TDX_E2E_CACHE or ~/.cache/tdx-audit-e2e)
# Prints the path of the code-server launcher. Idempotent: a finished install is reused.
set -euo pipefail
VERSION=4.100.3
P="${1:-${TDX_E2E_CACHE:-$HOME/.cache/tdx-audit-e2e}}/code-server-$VERSION"
BIN="$P/node_modules/code-server/out/node/entry.js"
if [ -f "$P/.done" ] && [ -f "$BIN" ]; then echo "$P/node_modules/.bin/code-server"; exit 0; fi
command -v rg >/dev/null || { echo "install-code-server: ripgrep (rg) is required" >&2; exit 1; }
rm -rf "$P"; mkdir -p "$P"
export npm_config_yes=true npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
log="$P/install.log"
{
  npm install --prefix "$P" --ignore-scripts "code-server@$VERSION"
  cd "$P/node_modules/code-server/lib/vscode"
  npm install --omit=dev --ignore-scripts
  mkdir -p node_modules/@vscode/ripgrep/bin
  ln -sfn "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
  npm rebuild
  ln -sfn node_modules node_modules.asar
  ln -sfn code-linux.sh bin/remote-cli/code-server
  ln -sfn browser-linux.sh bin/helpers/browser.sh
  (cd extensions && npm install --omit=dev)
  cd "$P"
  npm rebuild argon2
} >"$log" 2>&1 || { echo "install-code-server: failed, see $log" >&2; tail -30 "$log" >&2; exit 1; }
touch "$P/.done"
echo "$P/node_modules/.bin/code-server"
