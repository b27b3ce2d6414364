"""The build farm's test environment: loopback servers playing the registries, and farm data directories with the
runtime installed, the recipes copied and their real sdists seeded into the blob store."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from farm.context import Farm
from farm.settings import Settings
from tests.conftest import CACHE, PYODIDE_VERSION
from tests.support.npm_registry import NpmRegistryServer
from tests.support.server import wasmfarm_command
from tests.support.upstream import UpstreamServer

RECIPES = Path(__file__).parents[2] / "recipes"
SHIPPED = ["markupsafe", "ujson", "kiwisolver", "pyroaring"]  # C, C with C++, C++ with exceptions, Cython C++
# The scientific stack's recipes (numpy aside): minutes of compiling each, so tests/e2e/test_scientific_stack.py
# builds them through the shared build cache; the other build-farm tests' farms leave them out.
STACK = [
    *("pandas", "contourpy", "pillow", "matplotlib", "lxml", "shapely"),
    *("zlib", "libjpeg-turbo", "freetype", "libqhull", "libxml2", "libxslt", "geos"),
]


@dataclass
class BuildFarmEnv:
    data_dir: Path
    recipes: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*wasmfarm_command(), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def builds(self) -> list[dict[str, object]]:
        result = self.run("builds", "--json", "--limit", "500")
        assert result.returncode == 0, result.stderr
        return list(json.loads(result.stdout))


def _require_builder_assets() -> None:
    if not any((CACHE / "builders").glob("*/manifest.json")):
        pytest.fail(
            f"no builder image in {CACHE / 'builders'}: `make test` runs ci/builder-assets.sh to make one"
        )


@dataclass(frozen=True)
class Loopback:
    upstream: str
    build_index: str
    npm: str


@contextlib.contextmanager
def loopback_servers(upstream_dir: Path, cached_wheels: Path) -> Iterator[Loopback]:
    """Upstream index (micropip), build-requirement index and npm registry, all on loopback."""
    _require_builder_assets()
    upstream_dir.mkdir(parents=True, exist_ok=True)
    for wheel in ("micropip-0.11.1-py3-none-any.whl", "packaging-26.1-py3-none-any.whl"):
        shutil.copy(cached_wheels / wheel, upstream_dir)
    tarball = CACHE / "npm" / f"pyodide-{PYODIDE_VERSION}.tgz"
    with (
        UpstreamServer(upstream_dir) as upstream,
        UpstreamServer(CACHE / "build-wheels") as build_index,
        NpmRegistryServer({PYODIDE_VERSION: tarball}) as npm,
    ):
        yield Loopback(upstream.url, build_index.url, npm.url)


def new_farm(base: Path, servers: Loopback, *, without: Sequence[str] = (), **settings: str) -> BuildFarmEnv:
    """A farm data directory with the runtime installed, the recipes copied (but those ``without`` names), the
    sdists seeded."""
    recipes = base / "recipes"
    shutil.copytree(RECIPES, recipes, ignore=lambda where, _: list(without) if Path(where) == RECIPES else [])
    data_dir = base / "data"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PIP_")},
        "WASMFARM_DATA_DIR": str(data_dir),
        "WASMFARM_BUILDER_DIR": str(CACHE / "builders"),
        "WASMFARM_RECIPES_DIR": str(recipes),
        "WASMFARM_NPM_REGISTRY": servers.npm,
        "WASMFARM_UPSTREAM_INDEX": servers.upstream,
        "WASMFARM_BUILD_INDEX_URLS": json.dumps([servers.build_index]),
        "WASMFARM_BUILD_JOBS": "2",
        **{f"WASMFARM_{k.upper()}": v for k, v in settings.items()},
    }
    farm_env = BuildFarmEnv(data_dir, recipes, env)
    added = farm_env.run("runtime", "add", PYODIDE_VERSION)
    assert added.returncode == 0, added.stderr
    farm = Farm.open(Settings(data_dir=data_dir, database_url=env.get("WASMFARM_DATABASE_URL")))
    for sdist in (CACHE / "sdists").iterdir():  # the recipes' real sources, as if downloaded
        with sdist.open("rb") as handle:
            farm.blobs.put_stream(handle)
    farm.close()
    created = farm_env.run("builder", "create", "--runtime", PYODIDE_VERSION)
    assert created.returncode == 0, created.stderr
    assert "reusing builder image" in created.stderr  # made by ci/builder-assets.sh, found by its spec
    return farm_env
