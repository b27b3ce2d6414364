#!/usr/bin/env bash
# Build the editor bundle (CodeMirror 6 via esbuild, from the npm registry; nothing from a CDN at run time).
# Quick when nothing changed: npm ci is skipped while package-lock.json is unchanged, esbuild takes ~0.1 s.
set -euo pipefail
cd "$(dirname "$0")/../runner_assets/editor"
if ! command -v npm >/dev/null 2>&1; then
  echo "build-assets: installing nodejs and npm from Debian" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
stamp=node_modules/.wasmfarm-lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --silent --no-audit --no-fund
  echo "$want" > "$stamp"
fi
npm run --silent build >/dev/null 2>&1 || npm run build
test -s ../web/editor/editor.js
