"""End-to-end fixtures: a real `wasmfarm serve` process filled by a real `wasmfarm mirror` run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import CACHE, PYODIDE_VERSION
from tests.e2e.buildfarm import Loopback, loopback_servers
from tests.support.npm_registry import NpmRegistryServer
from tests.support.server import serve_process, wasmfarm_command
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel

RUNNER = Path(__file__).parents[2] / "runner_assets" / "node" / "micropip_run.mjs"
RUNTIME_RUNNER = Path(__file__).parents[2] / "runner_assets" / "node" / "runtime_run.mjs"
CACHE_PIP_HTML = CACHE / "pip-22.0-venv"  # a pip that predates PEP 691 (asks for text/html only)


@dataclass
class Mirror:
    url: str
    data_dir: Path
    access_log: Path
    env: dict[str, str]

    def requests(self) -> list[list[str]]:
        """Access-log lines as [time, method, path, status, bytes, content type]."""
        return [line.split() for line in self.access_log.read_text().splitlines()]

    @property
    def runtime_dir(self) -> Path:
        return self.data_dir / "www" / "pyodide" / PYODIDE_VERSION

    def wasmfarm(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*wasmfarm_command(), *args], env=self.env, capture_output=True, text=True, timeout=300
        )


@pytest.fixture(scope="module")
def mirror_server(tmp_path_factory: pytest.TempPathFactory, cached_wheels: Path) -> Iterator[Mirror]:
    base = tmp_path_factory.mktemp("e2e")
    upstream_dir = base / "upstream"
    make_wheel(
        upstream_dir,
        "greet",
        "1.0",
        requires=["colorname>=2"],
        module_source="from colorname import NAME\ndef hello():\n    return f'hello {NAME}'\n",
    )
    make_wheel(upstream_dir, "colorname", "2.1", module_source="NAME = 'teal'\n")
    make_wheel(upstream_dir, "colorname", "1.0", module_source="NAME = 'old'\n")
    for wheel in (
        "msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        "micropip-0.11.1-py3-none-any.whl",
        "packaging-26.1-py3-none-any.whl",
    ):
        shutil.copy(cached_wheels / wheel, upstream_dir)
    yield from mirrored_server(base, upstream_dir, ["greet", "msgpack>=1.2"])


def mirrored_server(base: Path, upstream_dir: Path, requirements: list[str]) -> Iterator[Mirror]:
    """Pyodide 314.0.7 added from a loopback npm registry, ``requirements`` (and their closure) mirrored from a
    loopback index over ``upstream_dir``, then ``wasmfarm serve`` on that data directory."""
    data_dir = base / "data"
    access_log = base / "access.log"
    env = {**os.environ, "WASMFARM_DATA_DIR": str(data_dir), "WASMFARM_ACCESS_LOG": str(access_log)}
    tarball = CACHE / "npm" / f"pyodide-{PYODIDE_VERSION}.tgz"
    with UpstreamServer(upstream_dir) as upstream, NpmRegistryServer({PYODIDE_VERSION: tarball}) as npm:
        added = subprocess.run(
            [*wasmfarm_command(), "runtime", "add", PYODIDE_VERSION],
            env={**env, "WASMFARM_NPM_REGISTRY": npm.url, "WASMFARM_UPSTREAM_INDEX": upstream.url},
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        requirements_file = base / "requirements.txt"
        requirements_file.write_text("".join(f"{r}\n" for r in requirements))
        mirrored = subprocess.run(
            [*wasmfarm_command(), "mirror", "--upstream", upstream.url, "-r", str(requirements_file)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert mirrored.returncode == 0, mirrored.stderr
    with serve_process(data_dir, env={"WASMFARM_ACCESS_LOG": str(access_log)}) as url:
        yield Mirror(url, data_dir, access_log, env)


@pytest.fixture(scope="session")
def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("node is not installed; `make test` installs it from Debian")
    return exe


def run_in_pyodide(
    node: str,
    pyodide_dir: Path,
    cached_wheels: Path,
    tmp_path: Path,
    index_url: str,
    install: list[str],
    code: str,
) -> dict[str, object]:
    config = {
        "pyodideDir": str(pyodide_dir),
        "packageCacheDir": str(cached_wheels),  # micropip itself (the npm package ships no wheels)
        "packageBaseUrl": index_url,  # no CDN: lock fallbacks could only come from the mirror
        "indexUrls": [index_url],
        "install": install,
        "code": code,
    }
    path = tmp_path / "runner.json"
    path.write_text(json.dumps(config))
    result = subprocess.run([node, str(RUNNER), str(path)], capture_output=True, text=True, timeout=300)
    lines = result.stdout.strip().splitlines()
    assert lines, f"runner printed nothing; stderr:\n{result.stderr[-3000:]}"
    return dict(json.loads(lines[-1]))


def run_runtime(node: str, config: dict[str, object], tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "runtime-runner.json"
    path.write_text(json.dumps(config))
    result = subprocess.run(
        [node, str(RUNTIME_RUNNER), str(path)], capture_output=True, text=True, timeout=300
    )
    lines = result.stdout.strip().splitlines()
    assert lines, f"runner printed nothing; stderr:\n{result.stderr[-3000:]}"
    return dict(json.loads(lines[-1]))


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory, cached_wheels: Path) -> Iterator[Loopback]:
    """Upstream index (micropip), build-requirement index and npm registry on loopback, for build-farm tests."""
    with loopback_servers(tmp_path_factory.mktemp("upstream"), cached_wheels) as servers:
        yield servers


def add_test_distribution(mirror: Mirror, directory: Path, pyodide_dir: Path) -> None:
    """Import a Pyodide release archive made here (``tests.support.distribution.release_files``: hello-dist, which
    the lock alone makes depend on tinycolor and the shared library libtiny) into the mirror's runtime, served from
    a loopback file server as a release would be."""
    from tests.support.distribution import FileServer, make_release, npm_info, release_files

    files = release_files(directory / "files")
    published = directory / "published"
    archive = make_release(
        published / f"pyodide-{PYODIDE_VERSION}.tar.bz2", None, files, info=npm_info(pyodide_dir)
    )
    with FileServer(published) as server:
        added = mirror.wasmfarm(
            "runtime", "add", PYODIDE_VERSION, "--distribution", server.url + archive.name
        )
    assert added.returncode == 0, added.stderr


def mirror_trusted_index(mirror: Mirror, directory: Path, pyodide_dir: Path, prefix: str) -> None:
    """Mirror ``<prefix>hello-dist`` from an index of Pyodide wheels with its lock beside it, as pyodide-recipes
    publishes them (``tests.support.distribution.publish_index``): the lock alone makes hello-dist depend on
    ``<prefix>tinycolor`` and the shared library ``<prefix>libtiny``, which is not on the index."""
    from tests.support.distribution import FileServer, npm_info, publish_index, release_files
    from tests.support.upstream import UpstreamServer

    files = release_files(directory / "made", prefix=prefix)
    lock = publish_index(files, directory / "index", directory / "locks", npm_info(pyodide_dir))
    with UpstreamServer(directory / "index") as index, FileServer(lock.parent) as locks:
        mirrored = mirror.wasmfarm(
            "mirror", f"{prefix}hello-dist", "--upstream", index.url, "--pyodide-lock", locks.url + lock.name
        )
    assert mirrored.returncode == 0, mirrored.stderr
    assert "trusted lock: metadata kept for 2 wheels, 1 shared libraries" in mirrored.stderr, mirrored.stderr
