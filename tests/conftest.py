"""Shared fixtures. Slow-to-make assets (the pyodide npm package, wheels from PyPI) come from a cache directory
outside the checkout, filled by ``ci/test-assets.sh`` (part of `make test`)."""

from __future__ import annotations

import os
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from farm.context import Farm
from farm.runtime.target import TARGETS
from farm.settings import Settings

CACHE = Path(os.environ.get("WASMFARM_CACHE", Path.home() / ".cache" / "wasmfarm"))
PYODIDE_VERSION = "314.0.7"
PG_ADMIN = os.environ.get("WASMFARM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _asset(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"test asset {path} is missing: run `make test` (or ci/test-assets.sh) to fetch it")
    return path


@pytest.fixture(autouse=True)
def _runtime_targets() -> Iterator[None]:
    """Runtime targets recorded in a test (``runtime add`` of a made-up release) stay in that test."""
    before = list(TARGETS.recorded.values())
    yield
    TARGETS.use(before)


@pytest.fixture(scope="session")
def cached_wheels() -> Path:
    return _asset(CACHE / "wheels")


@pytest.fixture(scope="session")
def pyodide_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real npm pyodide package, unpacked."""
    tarball = _asset(CACHE / "npm" / f"pyodide-{PYODIDE_VERSION}.tgz")
    target = tmp_path_factory.mktemp("pyodide")
    with tarfile.open(tarball) as archive:
        archive.extractall(target, filter="data")
    return target / "package"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN} is not reachable ({exc}); `make test` starts it")
    return PG_ADMIN


def _create_pg_database(admin_url: str) -> tuple[str, str]:
    name = f"wasmfarm_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return name, f"{base}/{name}"


def _drop_pg_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each database test runs on SQLite and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db.sqlite'}"
        return
    admin = request.getfixturevalue("postgres_server")
    name, url = _create_pg_database(admin)
    try:
        yield url
    finally:
        _drop_pg_database(admin, name)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    from tests.support.server import free_port

    return Settings(data_dir=tmp_path / "data", database_url=database_url, port=free_port())


@pytest.fixture
def farm(settings: Settings) -> Iterator[Farm]:
    domain = Farm.open(settings)
    yield domain
    domain.close()


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer's WASMFARM_* variables or config file leak into a test."""
    for key in list(os.environ):
        if key.startswith("WASMFARM_") and key not in (
            "WASMFARM_CACHE",
            "WASMFARM_TEST_PG",
            "WASMFARM_UPDATE_GOLDEN",
        ):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
