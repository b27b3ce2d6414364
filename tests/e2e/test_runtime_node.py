"""Pyodide 314 under Node booted from the mirror alone: its runtime, its lock, its wheels. No other host."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import PYODIDE_VERSION
from tests.e2e.conftest import Mirror, add_test_distribution, mirror_trusted_index, run_runtime

pytestmark = [pytest.mark.e2e, pytest.mark.node]


def config(mirror: Mirror, tmp_path: Path, packages: list[str], code: str, lock: Path | None = None) -> dict:
    cache = tmp_path / "package-cache"
    cache.mkdir()  # empty: every wheel must come over HTTP from the mirror
    origin = mirror.url.rstrip("/")
    return {
        "indexURL": str(mirror.runtime_dir) + "/",  # Node needs a path (FINDINGS); it holds the mirror's lock
        "lockFileURL": str(lock) if lock else None,
        "packageBaseUrl": f"{mirror.url}pyodide/{PYODIDE_VERSION}/",
        "packageCacheDir": str(cache),
        "allowedOrigin": origin,
        "loadPackages": packages,
        "code": code,
    }


def test_node_boots_from_the_mirror_and_loads_locked_packages(
    mirror_server: Mirror, node: str, tmp_path: Path
) -> None:
    code = "import micropip, msgpack\n[micropip.__version__, msgpack.unpackb(msgpack.packb([1, 2, 3]))[2]]"
    out = run_runtime(node, config(mirror_server, tmp_path, ["micropip", "msgpack"], code), tmp_path)
    assert out["denied"] == [], out["denied"]
    assert out["ok"], (out.get("error"), out["messages"])
    assert out["result"] == ["0.11.1", 3]
    fetched = {u.rsplit("/", 1)[-1] for u in out["fetched"]}
    assert {
        "micropip-0.11.1-py3-none-any.whl",
        "msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
    } <= fetched
    assert all(u.startswith(mirror_server.url) for u in out["fetched"])


def test_a_server_side_lock_boots_and_imports(mirror_server: Mirror, node: str, tmp_path: Path) -> None:
    response = httpx.post(mirror_server.url + f"r/{PYODIDE_VERSION}/lock", json={"requirements": ["greet"]})
    assert response.status_code == 200, response.text
    lock = tmp_path / "pyodide-lock.json"
    lock.write_text(json.dumps(response.json()))
    assert set(response.json()["packages"]) == {"greet", "colorname", "micropip"}
    out = run_runtime(
        node, config(mirror_server, tmp_path, ["greet"], "import greet\ngreet.hello()", lock), tmp_path
    )
    assert out["denied"] == []
    assert out["ok"], (out.get("error"), out["messages"])
    assert out["result"] == "hello teal"


def test_an_unsatisfiable_request_is_explained(mirror_server: Mirror) -> None:
    response = httpx.post(
        mirror_server.url + f"r/{PYODIDE_VERSION}/lock", json={"requirements": ["greet", "colorname<2"]}
    )
    assert response.status_code == 422
    message = response.json()["message"]
    assert "cannot resolve the requirements for Pyodide 314.0.7" in message
    assert "colorname" in message


def test_serve_installs_the_configured_runtime_on_first_start(tmp_path: Path, cached_wheels: Path) -> None:
    import shutil
    import time

    from tests.conftest import CACHE
    from tests.support.npm_registry import NpmRegistryServer
    from tests.support.server import serve_process
    from tests.support.upstream import UpstreamServer

    upstream_dir = tmp_path / "upstream"
    upstream_dir.mkdir()
    for wheel in ("micropip-0.11.1-py3-none-any.whl", "packaging-26.1-py3-none-any.whl"):
        shutil.copy(cached_wheels / wheel, upstream_dir)
    tarball = CACHE / "npm" / f"pyodide-{PYODIDE_VERSION}.tgz"
    with UpstreamServer(upstream_dir) as upstream, NpmRegistryServer({PYODIDE_VERSION: tarball}) as npm:
        env = {
            "WASMFARM_AUTO_INSTALL_RUNTIMES": "true",
            "WASMFARM_NPM_REGISTRY": npm.url,
            "WASMFARM_UPSTREAM_INDEX": upstream.url,
        }
        with serve_process(tmp_path / "data", env=env) as url:
            assert httpx.get(url + "health").status_code == 200  # serving before the runtime is there
            deadline = time.monotonic() + 120
            lock = None
            while time.monotonic() < deadline:
                response = httpx.get(url + f"pyodide/{PYODIDE_VERSION}/pyodide-lock.json")
                if response.status_code == 200:
                    lock = response.json()
                    break
                time.sleep(0.5)
    assert lock is not None, "the runtime was not installed within 120 s"
    assert set(lock["packages"]) == {"micropip", "packaging"}


def test_runtime_fetch_gives_node_a_local_index_url(mirror_server: Mirror, node: str, tmp_path: Path) -> None:
    """`wasmfarm runtime fetch` copies the runtime (checked against the server's list) for Node's filesystem
    indexURL; micropip comes from the copy, greet from the mirror's index, nothing from another host."""
    copy = tmp_path / "pyodide"
    fetched = mirror_server.wasmfarm(
        "runtime",
        "fetch",
        PYODIDE_VERSION,
        "--to",
        str(copy),
        "--server",
        mirror_server.url,
        "--package",
        "micropip",
        "--package",
        "Greet",
    )
    assert fetched.returncode == 0, fetched.stderr
    assert f'packageBaseUrl: "{mirror_server.url}pyodide/{PYODIDE_VERSION}/"' in fetched.stderr
    served = json.loads((mirror_server.runtime_dir / "wasmfarm-runtime.json").read_text())
    names = {f["name"] for f in served["files"]}
    assert {"pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip"} <= names
    for name in names:
        assert (copy / name).read_bytes() == (mirror_server.runtime_dir / name).read_bytes(), name
    assert json.loads((copy / "pyodide-lock.json").read_text()) == json.loads(
        (mirror_server.runtime_dir / "pyodide-lock.json").read_text()
    )
    assert (copy / "micropip-0.11.1-py3-none-any.whl").is_file()
    assert (copy / "greet-1.0-py3-none-any.whl").is_file()
    assert (copy / "colorname-2.1-py3-none-any.whl").is_file()  # greet's lock dependency
    assert not list(copy.glob(".*"))  # no temporary file left behind

    index = f"{mirror_server.url}r/{PYODIDE_VERSION}/simple/"
    code = (
        "import micropip\n"
        f"await micropip.install('greet', index_urls=[{index!r}])\n"
        "import greet\n"
        "[greet.hello(), micropip.list()['greet'].source]"
    )
    origin = mirror_server.url.rstrip("/")
    config = {
        "indexURL": str(copy) + "/",
        "packageBaseUrl": f"{mirror_server.url}pyodide/{PYODIDE_VERSION}/",
        "packageCacheDir": str(copy),
        "allowedOrigin": origin,
        "loadPackages": ["micropip"],
        "code": code,
    }
    out = run_runtime(node, config, tmp_path)
    assert out["denied"] == [], out["denied"]
    assert out["ok"], (out.get("error"), out["messages"])
    hello, source = out["result"]
    assert hello == "hello teal"
    assert source != "pyodide"  # from the index, not the lock
    urls = [str(u) for u in out["fetched"]]
    assert not [u for u in urls if u.endswith("micropip-0.11.1-py3-none-any.whl")]  # the copy had it
    assert [u for u in urls if u.endswith("/greet-1.0-py3-none-any.whl")], urls

    # Again: intact files are kept; a damaged one is fetched anew.
    (copy / "pyodide.mjs").write_text("damaged")
    again = mirror_server.wasmfarm(
        "runtime", "fetch", PYODIDE_VERSION, "--to", str(copy), "--server", mirror_server.url
    )
    assert again.returncode == 0, again.stderr
    assert f"2 files fetched, {len(names) - 1} kept" in again.stdout  # pyodide.mjs and the lock
    assert (copy / "pyodide.mjs").read_bytes() == (mirror_server.runtime_dir / "pyodide.mjs").read_bytes()


def test_a_package_of_an_imported_distribution_loads_by_name(
    mirror_server: Mirror, node: str, tmp_path: Path, pyodide_dir: Path
) -> None:
    """A Pyodide release archive (made here: wheels, a shared library, a test archive, their lock) imported into the
    served runtime; Node's loadPackage("hello-dist") takes it and its lock dependencies from the mirror alone."""
    add_test_distribution(mirror_server, tmp_path, pyodide_dir)
    code = "import hello_dist\nhello_dist.hello()"
    out = run_runtime(node, config(mirror_server, tmp_path, ["hello-dist"], code), tmp_path)
    assert out["denied"] == [], out["denied"]
    assert out["ok"], (out.get("error"), out["messages"])
    assert out["result"] == "hello from the distribution"
    fetched = {u.rsplit("/", 1)[-1] for u in out["fetched"]}
    assert {"hello_dist-1.0-py3-none-any.whl", "tinycolor-1.0-py3-none-any.whl", "libtiny-1.0.zip"} <= fetched
    assert all(u.startswith(mirror_server.url) for u in out["fetched"])


def test_a_package_mirrored_with_its_trusted_lock_installs_by_name_with_its_shared_library(
    mirror_server: Mirror, node: str, tmp_path: Path, pyodide_dir: Path
) -> None:
    """Mirrored from an index of Pyodide wheels with the lock published beside it: micropip.install("idx-hello-dist")
    takes the runtime lock's entry, so the lock's dependencies and the shared library (not on the index) come too,
    all from the mirror."""
    mirror_trusted_index(mirror_server, tmp_path, pyodide_dir, "idx-")
    code = (
        "import micropip\nawait micropip.install('idx-hello-dist')\nimport idx_hello_dist, pyodide_js\n"
        "[idx_hello_dist.hello(), sorted(k for k in pyodide_js.loadedPackages.object_keys() if k.startswith('idx'))]"
    )
    out = run_runtime(node, config(mirror_server, tmp_path, ["micropip"], code), tmp_path)
    assert out["denied"] == [], out["denied"]
    assert out["ok"], (out.get("error"), out["messages"])
    assert out["result"] == [
        "hello from the distribution",
        ["idx-hello-dist", "idx-libtiny", "idx-tinycolor"],
    ]
    fetched = {u.rsplit("/", 1)[-1] for u in out["fetched"]}
    assert {"idx_hello_dist-1.0-py3-none-any.whl", "idx-libtiny-1.0.zip"} <= fetched
    assert all(u.startswith(mirror_server.url) for u in out["fetched"])
