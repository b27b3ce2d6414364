#!/usr/bin/env bash
# Fetch and verify what the tests need and cannot make: the real pyodide npm package, a few wheels from PyPI, a
# pre-PEP 691 pip for the HTML API test, Node.js, Debian's Chromium and playwright-core. Kept in $WASMFARM_CACHE (default ~/.cache/wasmfarm), outside the
# checkout; verified by pinned hashes and reused when present.
set -euo pipefail
cache="${WASMFARM_CACHE:-$HOME/.cache/wasmfarm}"
mkdir -p "$cache/npm" "$cache/wheels"

PYODIDE_VERSION=314.0.7
PYODIDE_INTEGRITY="sha512-0YvXxEhfEdpLfb/XkM2BFAeMROq0iMUX2bzzH9pOttyMcWkwq+HbE5uyuGD82LN7y2q+SNvi/6V5JEsOlD2R1A=="
WHEELS=(
  "micropip==0.11.1 micropip-0.11.1-py3-none-any.whl 768de165adb8e66906039d8fec4127a57f522dfdf8e6fbff877a4616941ecfd3 any"
  "msgpack==1.2.4 msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl 06a0657a4110d563255006b7cb7147432f67827144e429c2cdb1c967548d1817 pyemscripten_2026_0_wasm32"
  "packaging==26.1 packaging-26.1-py3-none-any.whl 5d9c0669c6285e491e0ced2eee587eaf67b670d94a19e94e3984a481aba6802f any"
)

sri() { python3 -c 'import base64,hashlib,sys; print("sha512-"+base64.b64encode(hashlib.sha512(open(sys.argv[1],"rb").read()).digest()).decode())' "$1"; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "test-assets: installing nodejs and npm from Debian" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

tarball="$cache/npm/pyodide-$PYODIDE_VERSION.tgz"
if [ ! -f "$tarball" ] || [ "$(sri "$tarball")" != "$PYODIDE_INTEGRITY" ]; then
  echo "test-assets: fetching pyodide@$PYODIDE_VERSION from the npm registry" >&2
  rm -f "$tarball"
  (cd "$cache/npm" && npm pack --silent "pyodide@$PYODIDE_VERSION" >/dev/null)
  got=$(sri "$tarball")
  if [ "$got" != "$PYODIDE_INTEGRITY" ]; then
    echo "error: $tarball has integrity $got, expected $PYODIDE_INTEGRITY; removed" >&2
    rm -f "$tarball"; exit 1
  fi
fi

for spec in "${WHEELS[@]}"; do
  read -r req file sha platform <<<"$spec"
  path="$cache/wheels/$file"
  if [ -f "$path" ] && [ "$(sha256sum "$path" | cut -d' ' -f1)" = "$sha" ]; then continue; fi
  echo "test-assets: fetching $req from PyPI" >&2
  rm -f "$path"
  args=(--no-deps --only-binary=:all: --python-version 3.14 --implementation cp -d "$cache/wheels")
  [ "$platform" != any ] && args+=(--platform "$platform")
  python3 -m pip download -q --disable-pip-version-check "${args[@]}" "$req" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  if [ ! -f "$path" ] || [ "$(sha256sum "$path" | cut -d' ' -f1)" != "$sha" ]; then
    echo "error: $file missing or its sha256 is not $sha" >&2; rm -f "$path"; exit 1
  fi
done

# pip 22.0 predates PEP 691 and asks only for text/html: the HTML API test drives it. It runs on any Python 3.
old_pip="$cache/pip-22.0-venv"
if ! "$old_pip/bin/pip" --version 2>/dev/null | grep -q "^pip 22.0.4 "; then
  echo "test-assets: creating $old_pip (pip 22.0.4)" >&2
  rm -rf "$old_pip"
  python3 -m venv "$old_pip"
  "$old_pip/bin/python" -m pip install -q --disable-pip-version-check "pip==22.0.4" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  "$old_pip/bin/pip" --version | grep -q "^pip 22.0.4 " || { echo "error: could not create $old_pip" >&2; exit 1; }
fi
# Headless Chromium from Debian (never a browser download) and playwright-core from npm to drive it.
if [ ! -x /usr/bin/chromium ]; then
  echo "test-assets: installing chromium from Debian" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
PLAYWRIGHT_VERSION=1.65.1
if ! grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$cache/node/node_modules/playwright-core/package.json" 2>/dev/null; then
  echo "test-assets: installing playwright-core@$PLAYWRIGHT_VERSION into $cache/node" >&2
  mkdir -p "$cache/node"
  (cd "$cache/node" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund --no-save \
     "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null)
fi
echo "test-assets: ready in $cache" >&2
