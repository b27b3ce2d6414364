"""Headless Chromium (Debian's) boots Pyodide from the mirror's page, runtime, lock and wheels, and nothing else."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.conftest import CACHE, PYODIDE_VERSION
from tests.e2e.conftest import Mirror, add_test_distribution, mirror_trusted_index

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
OPEN_PAGE = Path(__file__).parent / "browser" / "open_page.mjs"
PLAYWRIGHT = CACHE / "node" / "node_modules" / "playwright-core"
ARTIFACTS = Path(__file__).parents[2] / "artifacts"


def open_page(node: str, url: str, tmp_path: Path, **options: object) -> dict:
    if not PLAYWRIGHT.is_dir() or not Path("/usr/bin/chromium").exists():
        pytest.fail(
            "playwright-core or /usr/bin/chromium is missing: `make test` (ci/test-assets.sh) installs them"
        )
    config = tmp_path / "page.json"
    config.write_text(
        json.dumps({"playwright": str(PLAYWRIGHT), "url": url, "timeoutMs": 120_000, **options})
    )
    result = subprocess.run([node, str(OPEN_PAGE), str(config)], capture_output=True, text=True, timeout=300)
    lines = result.stdout.strip().splitlines()
    assert lines, f"the browser driver printed nothing; stderr:\n{result.stderr[-3000:]}"
    return dict(json.loads(lines[-1]))


def smoke_url(mirror: Mirror, packages: str, code: str) -> str:
    return f"{mirror.url}runner/smoke.html?runtime={PYODIDE_VERSION}&packages={packages}&code={quote(code)}"


def test_chromium_boots_from_the_mirror_only(mirror_server: Mirror, node: str, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    code = "import msgpack\nmsgpack.unpackb(msgpack.packb({'k': [4, 5]}))['k'][1]"
    out = open_page(
        node,
        smoke_url(mirror_server, "msgpack", code),
        tmp_path,
        screenshot=str(ARTIFACTS / "runtime-smoke.png"),
    )
    assert out.get("error") is None, out
    assert out["result"]["ok"], out["result"]
    assert out["result"]["result"] == 5
    origin = urlsplit(mirror_server.url).netloc
    off_origin = [u for u in out["requests"] if urlsplit(u).netloc != origin]
    assert off_origin == [], off_origin
    paths = {urlsplit(u).path for u in out["requests"]}
    base = f"/pyodide/{PYODIDE_VERSION}/"
    assert {
        base + "pyodide.asm.wasm",
        base + "pyodide-lock.json",
        base + "python_stdlib.zip",
        base + "msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
    } <= paths


def test_a_wrong_lock_hash_fails_the_browser_integrity_check(
    mirror_server: Mirror, node: str, tmp_path: Path
) -> None:
    code = "import msgpack\n1"
    out = open_page(node, smoke_url(mirror_server, "msgpack", code), tmp_path, tamperLock="msgpack")
    assert out.get("error") is None, out
    result = out["result"]
    assert result["ok"] is False, result  # the SRI check refused the wheel: the import cannot succeed
    assert "No module named 'msgpack'" in result["error"]
    refusals = [m for m in out["console"] if "integrity" in m.lower()]
    assert refusals, out["console"]  # Chromium's own SRI refusal of the wheel


def load_hello(mirror: Mirror, node: str, tmp_path: Path, prefix: str) -> set[str]:
    """loadPackage("<prefix>hello-dist") and call it in Chromium; the file names the page fetched, all from the
    mirror."""
    module = f"{prefix}hello_dist".replace("-", "_")
    code = f"import {module}\n{module}.hello()"
    out = open_page(node, smoke_url(mirror, f"{prefix}hello-dist", code), tmp_path)
    assert out.get("error") is None, out
    assert out["result"]["ok"], out["result"]
    assert out["result"]["result"] == "hello from the distribution"
    origin = urlsplit(mirror.url).netloc
    assert [u for u in out["requests"] if urlsplit(u).netloc != origin] == []
    return {urlsplit(u).path.rsplit("/", 1)[-1] for u in out["requests"]}


def test_chromium_loads_a_package_of_an_imported_distribution(
    mirror_server: Mirror, node: str, tmp_path: Path, pyodide_dir: Path
) -> None:
    """loadPackage("hello-dist") in the page: the wheel, its lock dependency and the shared library come from the
    mirror, and pass Chromium's integrity check against the lock's sha256 (the distribution's, verified at import)."""
    add_test_distribution(mirror_server, tmp_path, pyodide_dir)
    paths = load_hello(mirror_server, node, tmp_path, "")
    assert {"hello_dist-1.0-py3-none-any.whl", "tinycolor-1.0-py3-none-any.whl", "libtiny-1.0.zip"} <= paths


def test_chromium_loads_a_package_mirrored_with_its_trusted_lock(
    mirror_server: Mirror, node: str, tmp_path: Path, pyodide_dir: Path
) -> None:
    """loadPackage("idx-hello-dist") in the page, mirrored from an index of Pyodide wheels with its lock: the wheel, the
    dependency only the lock names and the shared library (fetched from beside the lock) come from the mirror and pass
    Chromium's integrity check against the lock's sha256."""
    mirror_trusted_index(mirror_server, tmp_path, pyodide_dir, "idx-")
    paths = load_hello(mirror_server, node, tmp_path, "idx-")
    assert {
        "idx_hello_dist-1.0-py3-none-any.whl",
        "idx_tinycolor-1.0-py3-none-any.whl",
        "idx-libtiny-1.0.zip",
    } <= paths
