#!/usr/bin/env bash
# What the build-farm tests need and cannot make offline, kept in $WASMFARM_CACHE and reused when it verifies:
#   - the shipped recipes' sdists (checked against each recipe's source/sha256),
#   - the build requirements of those recipes as wheels (pinned with sha256 in ci/build-requirements.txt),
#   - a registry-only builder image (`wasmfarm builder create`: Debian's archive + PyPI; ~2 min the first time).
# Needs root, debootstrap, bubblewrap, zstd (installed from Debian when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${WASMFARM_CACHE:-$HOME/.cache/wasmfarm}"
mkdir -p "$cache/sdists" "$cache/build-wheels" "$cache/builders"

missing=()
for tool in debootstrap bwrap zstd; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "builder-assets: installing debootstrap bubblewrap zstd from Debian" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap bubblewrap zstd >/dev/null
fi

# Recipe sources, verified by the recipes' own hashes.
.venv/bin/python - "$cache/sdists" <<'PY'
import hashlib, sys, urllib.request
from pathlib import Path
import yaml
dest = Path(sys.argv[1])
for meta in sorted(Path("recipes").glob("*/meta.yaml")):
    source = yaml.safe_load(meta.read_text()).get("source", {})
    url, sha = source.get("url"), source.get("sha256")
    if not url:
        continue
    path = dest / url.rsplit("/", 1)[1]
    if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha:
        continue
    print(f"builder-assets: fetching {url}", file=sys.stderr)
    data = urllib.request.urlopen(url, timeout=120).read()
    if hashlib.sha256(data).hexdigest() != sha:
        sys.exit(f"error: {url} does not hash to {sha} ({meta})")
    path.write_bytes(data)
PY

# Build requirements (host-side wheels for CPython 3.14 on x86_64), pinned by hash.
if ! (cd "$cache/build-wheels" && sha256sum --quiet -c "$OLDPWD/ci/build-requirements.sha256" >/dev/null 2>&1); then
  echo "builder-assets: fetching build requirements into $cache/build-wheels" >&2
  # One pip call per round: a project pinned at two versions (meson-python, Cython and pybind11: older ones for
  # matplotlib 3.10 and lxml 6.1, newer ones for everyone else) cannot be asked of pip at once.
  rounds=$(mktemp -d)
  trap 'rm -rf "$rounds"' EXIT
  awk '{print $2}' ci/build-requirements.sha256 | sed -E 's/^([^-]+)-([^-]+)-.*/\1==\2/' \
    | awk -F== -v dir="$rounds" '{seen[$1]++; print > (dir "/round-" seen[$1])}'
  for round in "$rounds"/round-*; do
    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.14 \
      --implementation cp --abi cp314 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux1_x86_64 -d "$cache/build-wheels" -r "$round" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  done
  (cd "$cache/build-wheels" && sha256sum --quiet -c "$OLDPWD/ci/build-requirements.sha256") || {
    echo "error: build requirement wheels do not match ci/build-requirements.sha256" >&2; exit 1; }
fi

# The builder image, made once from the real registries and reused (the spec decides: same spec, same image).
farm="$cache/builder-farm"
export WASMFARM_DATA_DIR="$farm" WASMFARM_BUILDER_DIR="$cache/builders"
.venv/bin/wasmfarm runtime list | grep -q "^314.0.7" || .venv/bin/wasmfarm runtime add 314.0.7
current=$(.venv/bin/wasmfarm builder create --runtime 314.0.7)
# Images of older specs (an older layout, say) are 1.4 GB each and never used again here: remove them.
for old in $(.venv/bin/wasmfarm builder list | cut -f1 | grep -v "^$current$" || true); do
  echo "builder-assets: removing outdated builder image $old" >&2
  .venv/bin/wasmfarm builder remove "$old"
done
echo "builder-assets: ready ($(.venv/bin/wasmfarm builder list | cut -f1 | tr '\n' ' '))" >&2
