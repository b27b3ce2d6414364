#!/usr/bin/env bash
# Fetch and verify what the tests need and cannot make: the real pyodide npm package, a few wheels from PyPI, a
# pre-PEP 691 pip for the HTML API test, Node.js, Debian's wrk, Debian's Chromium and playwright-core, and for the
# client recipes (tests/e2e/test_client_sites.py): JupyterLite with its Pyodide kernel (a venv), the wheels that kernel installs at
# boot (ipython, jedi, comm and their closure on Pyodide: pure wheels) and @pyscript/core from npm. Kept in
# $WASMFARM_CACHE (default ~/.cache/wasmfarm), outside the checkout; verified by pinned hashes and reused when present.
set -euo pipefail
cache="${WASMFARM_CACHE:-$HOME/.cache/wasmfarm}"
mkdir -p "$cache/npm" "$cache/wheels" "$cache/lite-wheels"

PYODIDE_VERSION=314.0.7
PYODIDE_INTEGRITY="sha512-0YvXxEhfEdpLfb/XkM2BFAeMROq0iMUX2bzzH9pOttyMcWkwq+HbE5uyuGD82LN7y2q+SNvi/6V5JEsOlD2R1A=="
WHEELS=(
  "micropip==0.11.1 micropip-0.11.1-py3-none-any.whl 768de165adb8e66906039d8fec4127a57f522dfdf8e6fbff877a4616941ecfd3 any"
  "msgpack==1.2.4 msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl 06a0657a4110d563255006b7cb7147432f67827144e429c2cdb1c967548d1817 pyemscripten_2026_0_wasm32"
  "packaging==26.1 packaging-26.1-py3-none-any.whl 5d9c0669c6285e491e0ced2eee587eaf67b670d94a19e94e3984a481aba6802f any"
  # pandas' run requirements on Pyodide (tests/e2e/test_scientific_stack.py): pure wheels
  "python-dateutil==4.0.0 python_dateutil-4.0.0-py3-none-any.whl a5e246f79eb80475e691bf93862cead98decd8a498cf53ba0516fcdc0f50dc1c pure"
  "tzdata==2026.6 tzdata-2026.6-py2.py3-none-any.whl 0a10eec6e13ef16b627fabed9a5f2ba61a62b1c67f327305f4e7e412a70b4aec pure"
  # matplotlib's pure run requirements on Pyodide (its compiled ones are built by the farm)
  "cycler==0.12.1 cycler-0.12.1-py3-none-any.whl 85cef7cff222d8644161529808465972e51340599459b8ac3ccbac5a854e0d30 pure"
  "fonttools==4.68.0 fonttools-4.68.0-py3-none-any.whl d76f8fdcb6936f5e1045a0c9dd721a4bf11112e60d1e243bfa1d39f06a8b3104 pure"
  "pyparsing==3.3.3 pyparsing-3.3.3-py3-none-any.whl ece8c00a69cf01b45d0b1dedabb469c90d8caf996d4fda40f147627a122849a4 pure"
)

# What jupyterlite-pyodide-kernel 0.8.6 installs at boot (ipython, jedi, comm) and their closure under Emscripten
# markers (no pexpect, psutil: Pyodide's sys_platform is emscripten), all pure wheels.
LITE_WHEELS=(
  "asttokens==3.0.2 asttokens-3.0.2-py3-none-any.whl 9da13157f5b28becde0bd374fc677dcd3c290614264eff096f167c469cd9f933 pure"
  "comm==0.2.3 comm-0.2.3-py3-none-any.whl c615d91d75f7f04f095b30d1c1711babd43bdc6419c1be9886a85f2f4e489417 pure"
  "executing==2.3.0 executing-2.3.0-py3-none-any.whl 736e859c9f8701f11fcf516856f26f562e04776387824b43a35a1dfe21c84122 pure"
  "ipython==9.18.1 ipython-9.18.1-py3-none-any.whl 997ce9140d374531a61069c70c0f9ef299d6dd3559ea0f94b8af589726e3c1d5 pure"
  "ipython-pygments-lexers==1.1.1 ipython_pygments_lexers-1.1.1-py3-none-any.whl a9462224a505ade19a605f71f8fa63c2048833ce50abc86768a0d81d876dc81c pure"
  "jedi==0.20.1 jedi-0.20.1-py2.py3-none-any.whl 0fb16d86c4a4c73c37ba518c77419975e30fcc620658a8d14fbb5720cdd34142 pure"
  "matplotlib-inline==0.2.2 matplotlib_inline-0.2.2-py3-none-any.whl 3c821cf1c209f59fb2d2d64abbf5b23b67bcb2210d663f9918dd851c6da1fcf6 pure"
  "parso==0.8.7 parso-0.8.7-py2.py3-none-any.whl a8926eb2a1b915486941fdbd31e86a4baf88fe8c210f25f2f35ecec5b574ca1c pure"
  "prompt-toolkit==3.0.53 prompt_toolkit-3.0.53-py3-none-any.whl 01c0891d7f9237d5e339f7d3e42cdae80b7534abb1c7c0e3352efba6231492f2 pure"
  "pure-eval==0.2.4 pure_eval-0.2.4-py3-none-any.whl 96cae060a313cfaad51bb761278bfb0e62dc0248d9315a81173752dc546cd37a pure"
  "pygments==2.21.0 pygments-2.21.0-py3-none-any.whl 2363c69b61c4a97c838da3b130dcd6468f4848992b21a82f2a63ec34377137d9 pure"
  "stack-data==0.6.3 stack_data-0.6.3-py3-none-any.whl d5558e0c25a4cb0853cddad3d77da9891a08cb85dd9f9f91b9f8cd66e511e695 pure"
  "traitlets==5.16.1 traitlets-5.16.1-py3-none-any.whl f775618166caa0396c8e337099240f2bd3e5e917d203b2e6fbe21a58d3cb1f6b pure"
  "wcwidth==0.9.4 wcwidth-0.9.4-py3-none-any.whl 901eace6d2dd25ebb917d0ce5db18e5c537e1504c905cf32f0d006c12098b05d pure"
)
JUPYTERLITE_CORE=0.8.6
JUPYTERLITE_PYODIDE_KERNEL=0.8.6  # 0.8.7 requires jupyterlite-core >= 0.8.7, which PyPI does not have
PYSCRIPT_VERSION=0.7.31
PYSCRIPT_INTEGRITY="sha512-GqM1aonc1N4RTkNZ1zJ8jJk8+i2cqeztZslPsAiQtn+wHHkUX9Z1FgIg4HjCvhBylB68UKmbTVTzOobpgPIMVQ=="

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

fetch_wheels() {  # fetch_wheels DIR SPEC...: each "req file sha256 platform" (any, pure or a tag), verified
  local dir="$1"; shift
  for spec in "$@"; do
    read -r req file sha platform <<<"$spec"
    path="$dir/$file"
    if [ -f "$path" ] && [ "$(sha256sum "$path" | cut -d' ' -f1)" = "$sha" ]; then continue; fi
    echo "test-assets: fetching $req from PyPI" >&2
    rm -f "$path"
    args=(--no-deps --only-binary=:all: --python-version 3.14 --implementation cp -d "$dir")
    case "$platform" in  # any: the host's platform may be chosen too; pure: py3-none-any only
      any) ;; pure) args+=(--platform any) ;; *) args+=(--platform "$platform") ;;
    esac
    python3 -m pip download -q --disable-pip-version-check "${args[@]}" "$req" 2>&1 | grep -v "^WARNING: Location" >&2 || true
    if [ ! -f "$path" ] || [ "$(sha256sum "$path" | cut -d' ' -f1)" != "$sha" ]; then
      echo "error: $file missing or its sha256 is not $sha" >&2; rm -f "$path"; exit 1
    fi
  done
}
fetch_wheels "$cache/wheels" "${WHEELS[@]}"
fetch_wheels "$cache/lite-wheels" "${LITE_WHEELS[@]}"

# pip 22.0 predates PEP 691 and asks only for text/html: the HTML API test drives it. It runs on any Python 3.
old_pip="$cache/pip-22.0-venv"
if ! "$old_pip/bin/pip" --version 2>/dev/null | grep -q "^pip 22.0.4 "; then
  echo "test-assets: creating $old_pip (pip 22.0.4)" >&2
  rm -rf "$old_pip"
  python3 -m venv "$old_pip"
  "$old_pip/bin/python" -m pip install -q --disable-pip-version-check "pip==22.0.4" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  "$old_pip/bin/pip" --version | grep -q "^pip 22.0.4 " || { echo "error: could not create $old_pip" >&2; exit 1; }
fi
# wrk and nginx from Debian: the page load of tests/integration/test_lock_isolation.py (64 connections; a Python
# client would be the bottleneck) against the production layout (nginx in front of `wasmfarm serve`).
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-assets: installing ${missing[*]} from Debian" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Headless Chromium from Debian (never a browser download) and playwright-core from npm to drive it.
if [ ! -x /usr/bin/chromium ]; then
  echo "test-assets: installing chromium from Debian" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# axe-core (the accessibility checks of the editor's e2e tests) beside it, injected into the pages by the tests.
PLAYWRIGHT_VERSION=1.65.1
AXE_VERSION=4.14.1
if ! grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$cache/node/node_modules/playwright-core/package.json" 2>/dev/null \
   || ! grep -q "\"version\": \"$AXE_VERSION\"" "$cache/node/node_modules/axe-core/package.json" 2>/dev/null; then
  echo "test-assets: installing playwright-core@$PLAYWRIGHT_VERSION and axe-core@$AXE_VERSION into $cache/node" >&2
  mkdir -p "$cache/node"
  (cd "$cache/node" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund --no-save \
     "playwright-core@$PLAYWRIGHT_VERSION" "axe-core@$AXE_VERSION" >/dev/null)
fi
# JupyterLite (its build tool and the Pyodide kernel's extension) in a venv of its own: `jupyter lite build` runs
# offline from it. Any Python >= 3.10 will do.
lite="$cache/jupyterlite-$JUPYTERLITE_CORE-venv"
lite_ok() {
  "$lite/bin/python" -c 'import sys
from importlib.metadata import version
sys.exit(version("jupyterlite-core") != sys.argv[1] or version("jupyterlite-pyodide-kernel") != sys.argv[2])' \
    "$JUPYTERLITE_CORE" "$JUPYTERLITE_PYODIDE_KERNEL" 2>/dev/null
}
if ! lite_ok; then
  echo "test-assets: creating $lite (jupyterlite-core $JUPYTERLITE_CORE, jupyterlite-pyodide-kernel $JUPYTERLITE_PYODIDE_KERNEL)" >&2
  rm -rf "$lite"
  python3 -m venv "$lite"
  "$lite/bin/python" -m pip install -q --disable-pip-version-check "jupyterlite-core==$JUPYTERLITE_CORE" \
    "jupyterlite-pyodide-kernel==$JUPYTERLITE_PYODIDE_KERNEL" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  lite_ok || { echo "error: could not create $lite" >&2; rm -rf "$lite"; exit 1; }
fi
# PyScript needs no build: its npm package's dist/ is served as it is.
pyscript="$cache/npm/pyscript-core-$PYSCRIPT_VERSION.tgz"
if [ ! -f "$pyscript" ] || [ "$(sri "$pyscript")" != "$PYSCRIPT_INTEGRITY" ]; then
  echo "test-assets: fetching @pyscript/core@$PYSCRIPT_VERSION from the npm registry" >&2
  rm -f "$pyscript"
  (cd "$cache/npm" && npm pack --silent "@pyscript/core@$PYSCRIPT_VERSION" >/dev/null)
  got=$(sri "$pyscript")
  if [ "$got" != "$PYSCRIPT_INTEGRITY" ]; then
    echo "error: $pyscript has integrity $got, expected $PYSCRIPT_INTEGRITY; removed" >&2
    rm -f "$pyscript"; exit 1
  fi
fi
echo "test-assets: ready in $cache" >&2
