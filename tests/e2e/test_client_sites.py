"""JupyterLite and PyScript on the mirror, in Debian's Chromium: the kernel or the page boots Pyodide from the mirror
and installs a mirrored package, and no origin but the mirror's and the site's is ever contacted.

Two loopback origins take part, both allowed: the wasmfarm server ("mirror": runtime, lock, index, wheels) and a
static file server ("site": the JupyterLite build, the PyScript page and @pyscript/core's dist/). Every other host
name is unresolvable in the browser (see browser/client_site.mjs), and every request is recorded.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.conftest import CACHE, PYODIDE_VERSION
from tests.e2e.conftest import Mirror, mirrored_server
from tests.support.loopback import LoopbackServer

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
CLIENT_SITE = Path(__file__).parent / "browser" / "client_site.mjs"
PLAYWRIGHT = CACHE / "node" / "node_modules" / "playwright-core"
LITE_VENV = (
    CACHE / "jupyterlite-0.8.6-venv"
)  # ci/test-assets.sh: jupyterlite-core, jupyterlite-pyodide-kernel
LITE_WHEELS = CACHE / "lite-wheels"  # what the kernel installs at boot: ipython, jedi, comm and their closure
PYSCRIPT = CACHE / "npm" / "pyscript-core-0.7.31.tgz"
ARTIFACTS = Path(__file__).parents[2] / "artifacts"
MSGPACK = "msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: `make test` (ci/test-assets.sh) fetches it")
    return path


@pytest.fixture(scope="module")
def client_mirror(tmp_path_factory: pytest.TempPathFactory, cached_wheels: Path) -> Iterator[Mirror]:
    """A server with Pyodide 314.0.7, msgpack and the JupyterLite kernel's boot closure mirrored from loopback."""
    base = tmp_path_factory.mktemp("clients")
    upstream_dir = base / "upstream"
    upstream_dir.mkdir()
    for wheel in (MSGPACK, "micropip-0.11.1-py3-none-any.whl", "packaging-26.1-py3-none-any.whl"):
        shutil.copy(cached_wheels / wheel, upstream_dir)
    for wheel in _require(LITE_WHEELS).glob("*.whl"):
        shutil.copy(wheel, upstream_dir)
    yield from mirrored_server(base, upstream_dir, ["ipython", "jedi", "comm", "msgpack"])


@dataclass
class Site:
    url: str
    root: Path


class _StaticFiles(SimpleHTTPRequestHandler):
    extensions_map = {  # the stdlib's own class attribute, extended
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".json": "application/json",
        ".wasm": "application/wasm",
        ".ipynb": "application/json",
    }

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The second origin: a plain static file server, as a site would be deployed."""
    root = tmp_path_factory.mktemp("site")
    handler = functools.partial(_StaticFiles, directory=str(root))
    with LoopbackServer(handler) as server:  # type: ignore[arg-type]
        yield Site(server.url, root)


def open_site(
    node: str, url: str, marker: str, tmp_path: Path, screenshot: str, timeout_ms: int = 150_000
) -> dict:
    _require(PLAYWRIGHT)
    _require(Path("/usr/bin/chromium"))
    ARTIFACTS.mkdir(exist_ok=True)
    config = tmp_path / "site.json"
    config.write_text(
        json.dumps(
            {
                "playwright": str(PLAYWRIGHT),
                "url": url,
                "marker": marker,
                "failMarker": "Traceback",
                "timeoutMs": timeout_ms,
                "screenshot": str(ARTIFACTS / screenshot),
            }
        )
    )
    result = subprocess.run(
        [node, str(CLIENT_SITE), str(config)], capture_output=True, text=True, timeout=300
    )
    lines = result.stdout.strip().splitlines()
    assert lines, f"the browser driver printed nothing; stderr:\n{result.stderr[-3000:]}"
    return dict(json.loads(lines[-1]))


def assert_only_mirror_and_site(out: dict, mirror: Mirror, site: Site) -> set[str]:
    """Every request went to the mirror or the site; the paths asked of the mirror."""
    allowed = {urlsplit(mirror.url).netloc, urlsplit(site.url).netloc}
    elsewhere = [u for u in out["requests"] if urlsplit(u).scheme in ("http", "https", "ws", "wss")]
    elsewhere = [u for u in elsewhere if urlsplit(u).netloc not in allowed]
    assert elsewhere == [], elsewhere
    mirror_netloc = urlsplit(mirror.url).netloc
    return {urlsplit(u).path for u in out["requests"] if urlsplit(u).netloc == mirror_netloc}


def test_jupyterlite_kernel_boots_from_the_mirror_and_pip_installs_from_it(
    client_mirror: Mirror, site: Site, node: str, tmp_path: Path
) -> None:
    runtime = f"{client_mirror.url}pyodide/{PYODIDE_VERSION}/"
    lite_dir = tmp_path / "lite"
    lite_dir.mkdir()
    (lite_dir / "jupyter-lite.json").write_text(
        json.dumps(
            {
                "jupyter-lite-schema-version": 0,
                "jupyter-config-data": {
                    "litePluginSettings": {
                        "@jupyterlite/pyodide-kernel-extension:kernel": {
                            "pyodideUrl": runtime + "pyodide.mjs",
                            "loadPyodideOptions": {"lockFileURL": runtime + "pyodide-lock.json"},
                            "disablePyPIFallback": True,
                        }
                    }
                },
            }
        )
    )
    offline = {
        **os.environ,
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    built = subprocess.run(  # offline: any download the build tried would fail at the dead proxy
        [str(_require(LITE_VENV) / "bin" / "jupyter"), "lite", "build", "--lite-dir", str(lite_dir),
         "--output-dir", str(site.root / "lite")],
        cwd=lite_dir, env=offline, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    cells = [
        "%pip install msgpack",
        'import msgpack, sys; print("wasmfarm", "ok", msgpack.unpackb(msgpack.packb([1, 2, 3]))[2], sys.version)',
    ]
    url = f"{site.url}lite/repl/index.html?kernel=python&toolbar=1" + "".join(
        f"&code={quote(c)}" for c in cells
    )
    out = open_site(node, url, "wasmfarm ok 3", tmp_path, "jupyterlite-repl.png")
    assert out.get("error") is None, (out.get("error"), out.get("text"), out["console"][-20:])
    assert "wasmfarm ok 3 3.14" in out["text"], out["text"]
    paths = assert_only_mirror_and_site(out, client_mirror, site)
    base = f"/pyodide/{PYODIDE_VERSION}/"
    assert {
        base + "pyodide.mjs",
        base + "pyodide.asm.wasm",
        base + "pyodide-lock.json",
        base + "micropip-0.11.1-py3-none-any.whl",
        base + "ipython-9.18.1-py3-none-any.whl",  # the kernel's boot closure, mirrored
        base + "jedi-0.20.1-py2.py3-none-any.whl",
        base + "comm-0.2.3-py3-none-any.whl",
        base + MSGPACK,  # %pip install msgpack
    } <= paths, sorted(paths)
    print(f"JupyterLite: {out['seconds']:.1f} s to the printed result")


def test_pyscript_page_boots_from_the_mirror_and_installs_from_its_index(
    client_mirror: Mirror, site: Site, node: str, tmp_path: Path
) -> None:
    config = {
        "interpreter": f"{client_mirror.url}pyodide/{PYODIDE_VERSION}/pyodide.mjs",
        "packages": ["msgpack"],
        "index_urls": [f"{client_mirror.url}r/{PYODIDE_VERSION}/simple/"],
    }
    pyscript_page(site, tmp_path, "pyscript", config)
    out = open_site(node, f"{site.url}pyscript/index.html", "wasmfarm ok 3", tmp_path, "pyscript-page.png")
    assert out.get("error") is None, (out.get("error"), out.get("text"), out["console"][-20:])
    assert "wasmfarm ok 3 3.14" in out["text"], out["text"]
    paths = assert_only_mirror_and_site(out, client_mirror, site)
    base = f"/pyodide/{PYODIDE_VERSION}/"
    assert {base + "pyodide.mjs", base + "pyodide.asm.wasm", base + "pyodide-lock.json"} <= paths, sorted(
        paths
    )
    # msgpack came through the runtime's index (index_urls), not from the lock
    assert any(
        p.rstrip("/").replace("//", "/").endswith(f"/r/{PYODIDE_VERSION}/simple/msgpack") for p in paths
    ), sorted(paths)
    assert any(p.startswith("/files/") and p.endswith(MSGPACK) for p in paths), sorted(paths)
    print(f"PyScript: {out['seconds']:.1f} s to the printed result")


def pyscript_page(site: Site, tmp_path: Path, name: str, config: dict[str, object]) -> None:
    """``<site>/<name>/index.html``: @pyscript/core's dist/ beside a page whose Python shows a marker."""
    page_dir = site.root / name
    with tarfile.open(_require(PYSCRIPT)) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith("package/dist/")]
        archive.extractall(tmp_path / "npm", members=members, filter="data")
    shutil.copytree(tmp_path / "npm" / "package" / "dist", page_dir / "dist")
    (page_dir / "index.html").write_text(
        "<!doctype html>\n<html><head><meta charset='utf-8'>\n"
        '<link rel="stylesheet" href="./dist/core.css">\n'
        '<script type="module" src="./dist/core.js"></script>\n'
        "</head><body><div id='out'>waiting</div>\n"
        f"<script type='py' config='{json.dumps(config)}'>\n"
        "import sys, msgpack\n"
        "from pyscript import document\n"
        "value = msgpack.unpackb(msgpack.packb([1, 2, 3]))[2]\n"
        "document.getElementById('out').innerText = ' '.join(['wasmfarm', 'ok', str(value), sys.version])\n"
        "</script>\n</body></html>\n"
    )


def test_a_page_that_reaches_for_the_cdn_is_caught(
    client_mirror: Mirror, site: Site, node: str, tmp_path: Path
) -> None:
    """The guard is not vacuous: without `interpreter`, PyScript asks jsDelivr for Pyodide; the browser cannot reach
    it, the page never shows its result, and the attempt is in the record."""
    pyscript_page(site, tmp_path, "pyscript-cdn", {"packages": ["msgpack"]})
    out = open_site(
        node,
        f"{site.url}pyscript-cdn/index.html",
        "wasmfarm ok 3",
        tmp_path,
        "pyscript-cdn.png",
        timeout_ms=15_000,
    )
    assert out.get("error") is not None and "wasmfarm ok" not in (out.get("text") or "")
    with pytest.raises(AssertionError, match=r"cdn\.jsdelivr\.net"):
        assert_only_mirror_and_site(out, client_mirror, site)
