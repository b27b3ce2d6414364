#!/usr/bin/env bash
# Create .venv with a Python >= 3.12 and install wasmfarm with its dev tools. Idempotent and quick when nothing changed.
#
# wasmfarm needs Python >= 3.12 (pyodide-lock >= 0.2 does). Debian 12's python3 is 3.11, so this looks for
# python3.13 / python3.12 on PATH and in pyenv's versions; WASMFARM_PYTHON=/path/to/python overrides.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  local candidates=()
  [ -n "${WASMFARM_PYTHON:-}" ] && candidates+=("$WASMFARM_PYTHON")
  for v in 3.14 3.13 3.12; do
    command -v "python$v" >/dev/null 2>&1 && candidates+=("$(command -v "python$v")")
    for d in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v"; do [ -x "$d" ] && candidates+=("$d"); done
  done
  command -v python3 >/dev/null 2>&1 && candidates+=("$(command -v python3)")
  for py in "${candidates[@]}"; do
    if "$py" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  return 1
}

extras="${WASMFARM_EXTRAS:-dev}"
stamp=".venv/.wasmfarm-installed"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)-$extras"
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if ! py=$(find_python); then
  echo "error: wasmfarm needs Python >= 3.12 and none was found (looked for python3.14/3.13/3.12 on PATH and in" \
       "pyenv). Install one (e.g. 'pyenv install 3.13') or set WASMFARM_PYTHON=/path/to/python3.12+" >&2
  exit 1
fi
echo "bootstrap: creating .venv with $py ($("$py" --version))" >&2
[ -x .venv/bin/python ] || "$py" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]" 2>&1 | grep -v "^WARNING: Location" >&2 || true
.venv/bin/python -c 'import farm, index_server, fastapi, sqlmodel, resolvelib' \
  || { echo "error: installing wasmfarm into .venv failed (see above)" >&2; exit 1; }
echo "$want" > "$stamp"
