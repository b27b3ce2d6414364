"""Pyodide's own release distribution imported into a runtime: every file verified against its lock, wheels in the
catalog with the origin ``pyodide``, their upstream lock metadata in the runtime's generated lock at mirror URLs; a
tampered, hostile or foreign archive refused with the store left as it was; the precedence between origins."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from farm.context import Farm
from farm.runtime.install import install_runtime
from farm.settings import Settings
from tests.conftest import CACHE, PYODIDE_VERSION
from tests.support.distribution import (
    FileServer,
    Locked,
    hostile_release,
    make_release,
    npm_info,
    release_files,
)
from tests.support.npm_registry import NpmRegistryServer
from tests.support.server import free_port, serve_thread
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel

V = PYODIDE_VERSION


@dataclass
class Site:
    settings: Settings
    published: Path  # the directory the file server publishes
    url: str  # of the file server
    info: dict[str, object]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, pyodide_dir: Path) -> Iterator[Site]:
    """Pyodide 314.0.7 installed (npm runtime, micropip), tinycolor 2.0 mirrored from upstream, and a directory of
    release archives served on loopback."""
    base = tmp_path_factory.mktemp("distribution")
    upstream_dir = base / "upstream"
    upstream_dir.mkdir()
    for name in ("micropip-0.11.1-py3-none-any.whl", "packaging-26.1-py3-none-any.whl"):
        shutil.copy(CACHE / "wheels" / name, upstream_dir)
    make_wheel(upstream_dir, "tinycolor", "2.0", module_source="NAME = 'mirrored'\n")
    tarball = CACHE / "npm" / f"pyodide-{V}.tgz"
    published = base / "published"
    published.mkdir()
    with UpstreamServer(upstream_dir) as upstream, NpmRegistryServer({V: tarball}) as npm:
        settings = Settings(
            data_dir=base / "data", port=free_port(), upstream_index=upstream.url, npm_registry=npm.url
        )
        farm = Farm.open(settings)
        install_runtime(farm, V)
        from packaging.requirements import Requirement

        from farm.mirror.mirror import Mirror, Progress
        from farm.mirror.upstream import UpstreamIndex

        index = UpstreamIndex(upstream.url)
        job = Mirror(farm, index, settings.targets)
        job.run(job.plan_projects([Requirement("tinycolor")], all_versions=True), Progress())
        index.close()
        farm.close()
    with FileServer(published) as files:
        yield Site(settings, published, files.url, npm_info(pyodide_dir))


def wasmfarm(site: Site, *args: str, env: dict[str, str] | None = None) -> Result:
    from index_server.cli import cli

    return CliRunner().invoke(
        cli,
        ["--data-dir", str(site.settings.data_dir), *args],
        env={"WASMFARM_PORT": str(site.settings.port), **(env or {})},  # the same public URL as the server
    )


def store_state(settings: Settings) -> dict[str, object]:
    """Everything an import could change: catalog rows, blobs (and leftovers), runtime records, the runtime's folder."""
    farm = Farm.open(settings)
    try:
        rows = sorted((r.filename, r.sha256, r.origin) for r in farm.catalog.files_named(_all_names(farm)))
    finally:
        farm.close()

    def tree(root: Path) -> list[tuple[str, str]]:
        found = []
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            if path.is_symlink():
                found.append((str(path.relative_to(root)), "-> " + str(path.readlink())))
            elif path.is_file():
                found.append((str(path.relative_to(root)), hashlib.sha256(path.read_bytes()).hexdigest()))
        return found

    return {
        "rows": rows,
        "blobs": tree(settings.blob_dir),  # .tmp included: no staged file may be left behind
        "runtimes": tree(settings.runtime_dir),
        "www": tree(settings.www_dir / "pyodide" / V),
    }


def _all_names(farm: Farm) -> list[str]:
    return [r.filename for name in farm.catalog.project_names() for r in farm.catalog.wheels_of(name)]


@pytest.fixture(scope="module")
def imported(site: Site, pyodide_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Result:
    files = release_files(tmp_path_factory.mktemp("release"))
    archive = make_release(site.published / f"pyodide-{V}.tar.bz2", pyodide_dir, files, info=site.info)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    return wasmfarm(site, "runtime", "add", V, "--distribution", site.url + archive.name, "--sha256", digest)


def test_import_verifies_every_file_and_locks_them_at_mirror_urls(site: Site, imported: Result) -> None:
    assert imported.exit_code == 0, imported.output
    assert "4 files verified against its lock; wheels: 2 added, 0 present; 2 other files" in imported.stdout
    assert (
        "runtime files as the npm package's: pyodide.mjs, pyodide.asm.mjs, pyodide.asm.wasm"
        in imported.stderr
    )
    farm = Farm.open(site.settings)
    try:
        origins = {r.filename: r.origin for r in farm.catalog.files_named(_all_names(farm))}
    finally:
        farm.close()
    assert origins["hello_dist-1.0-py3-none-any.whl"] == "pyodide"
    assert origins["tinycolor-1.0-py3-none-any.whl"] == "pyodide"
    assert origins["tinycolor-2.0-py3-none-any.whl"] == "mirrored"

    with serve_thread(site.settings) as url:
        base = url + f"pyodide/{V}/"
        lock = httpx.get(base + "pyodide-lock.json").json()
        packages = lock["packages"]
        assert packages["hello-dist"]["depends"] == ["libtiny", "tinycolor"]  # from the upstream lock only
        assert packages["hello-dist"]["unvendored_tests"] is True
        assert packages["hello-dist"]["imports"] == ["hello_dist"]
        assert packages["libtiny"]["package_type"] == "shared_library"
        assert packages["libtiny"]["install_dir"] == "dynlib"
        assert packages["hello-dist-tests"]["file_name"] == "hello-dist-tests.zip"
        assert (
            packages["tinycolor"]["file_name"] == "tinycolor-1.0-py3-none-any.whl"
        )  # pyodide before mirrored
        for name in ("hello-dist", "tinycolor", "libtiny", "hello-dist-tests", "micropip"):
            entry = packages[name]
            assert "/" not in entry["file_name"]  # resolved against the mirror's runtime folder, never a CDN
            served = httpx.get(base + entry["file_name"])
            assert served.status_code == 200, entry["file_name"]
            assert hashlib.sha256(served.content).hexdigest() == entry["sha256"]
        locked = httpx.post(url + f"r/{V}/lock", json={"requirements": ["hello-dist"]})
        assert locked.status_code == 200, locked.text
        assert {"hello-dist", "tinycolor", "libtiny", "micropip"} <= set(locked.json()["packages"])
        assert locked.json()["packages"]["hello-dist"] == packages["hello-dist"]
        simple = httpx.get(
            url + "simple/hello-dist/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        assert [f["filename"] for f in simple.json()["files"]] == ["hello_dist-1.0-py3-none-any.whl"]

    listed = wasmfarm(site, "runtime", "list", "--packages")
    assert listed.exit_code == 0, listed.output
    assert (
        "pyodide 4, mirrored 2" in listed.stdout
    )  # hello-dist, tinycolor, libtiny, the tests; micropip, packaging
    assert "  tinycolor\t1.0\tpyodide" in listed.stdout
    assert f"  distribution: {site.url}pyodide-{V}.tar.bz2 (sha256 " in listed.stdout, listed.stdout

    fsck = wasmfarm(site, "fsck", "--json")
    assert fsck.exit_code == 0, fsck.output
    assert not [f for f in json.loads(fsck.stdout)["findings"] if f["kind"] == "orphan"]


def test_the_same_archive_again_changes_nothing(site: Site, imported: Result) -> None:
    assert imported.exit_code == 0, imported.output
    before = store_state(site.settings)
    again = wasmfarm(
        site, "runtime", "add", V, "--distribution", str(site.published / f"pyodide-{V}.tar.bz2")
    )
    assert again.exit_code == 0, again.output
    assert "wheels: 0 added, 2 present" in again.stdout
    after = store_state(site.settings)
    assert (
        after["rows"] == before["rows"]
        and after["blobs"] == before["blobs"]
        and after["www"] == before["www"]
    )


def test_a_tampered_wheel_is_refused_naming_it(site: Site, tmp_path: Path, imported: Result) -> None:
    files = release_files(tmp_path / "files", prefix="other-")
    archive = make_release(
        site.published / "tampered.tar.gz",
        None,
        files,
        info=site.info,
        tamper="other_tinycolor-1.0-py3-none-any.whl",
        compression="gz",
    )
    before = store_state(site.settings)
    result = wasmfarm(site, "runtime", "add", V, "--distribution", site.url + archive.name)
    assert result.exit_code != 0
    assert "other_tinycolor-1.0-py3-none-any.whl is tampered" in result.output
    assert "nothing was imported" in result.output
    assert store_state(site.settings) == before

    missing = make_release(
        site.published / "missing.tar",
        None,
        files,
        info=site.info,
        drop="other-libtiny-1.0.zip",
        compression="",
    )
    result = wasmfarm(site, "runtime", "add", V, "--distribution", str(missing))
    assert result.exit_code != 0
    assert "other-libtiny-1.0.zip is missing from the archive" in result.output
    assert store_state(site.settings) == before

    intact = make_release(site.published / "intact.tar.bz2", None, files, info=site.info)
    result = wasmfarm(site, "runtime", "add", V, "--distribution", str(intact), "--sha256", "ab" * 32)
    assert result.exit_code != 0
    assert f"--sha256 says {'ab' * 32}, the archive hashes to" in result.output
    foreign = make_release(
        site.published / "foreign.tar.bz2", None, files, info={**site.info, "abi_version": "2025_0"}
    )
    result = wasmfarm(site, "runtime", "add", V, "--distribution", str(foreign))
    assert result.exit_code != 0
    assert "its lock is for another runtime: abi_version '2025_0'" in result.output
    assert store_state(site.settings) == before


def test_a_package_named_like_a_runtime_file_is_refused(site: Site, tmp_path: Path, imported: Result) -> None:
    """A lock entry ``python_stdlib.zip`` would be linked over the runtime's own standard library."""
    stdlib = tmp_path / "python_stdlib.zip"
    stdlib.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: not the runtime's
    archive = make_release(
        site.published / "stdlib.tar.gz",
        None,
        [Locked(stdlib, "python-stdlib", "1.0", package_type="shared_library", install_dir="dynlib")],
        info=site.info,
        compression="gz",
    )
    before = store_state(site.settings)
    result = wasmfarm(site, "runtime", "add", V, "--distribution", str(archive))
    assert result.exit_code != 0
    assert "file name 'python_stdlib.zip' is not a plain file name of a package" in result.output
    assert store_state(site.settings) == before


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink", "device"])
def test_a_hostile_archive_is_refused(site: Site, kind: str, imported: Result) -> None:
    archive = hostile_release(site.published / f"hostile-{kind}.tar.bz2", kind, site.info)
    before = store_state(site.settings)
    result = wasmfarm(site, "runtime", "add", V, "--distribution", site.url + archive.name)
    assert result.exit_code != 0
    expected = {
        "dotdot": "unsafe path 'pyodide/../escaped.txt'",
        "absolute": "unsafe path '/tmp/wasmfarm-escaped.txt'",
        "symlink": "'pyodide/evil.whl' is a link",
        "hardlink": "'pyodide/evil.whl' is a link",
        "device": "'pyodide/evil.whl' is a device",
    }[kind]
    assert expected in result.output
    assert "Traceback" not in result.output
    assert store_state(site.settings) == before
    assert not Path("/tmp/wasmfarm-escaped.txt").exists()
    assert not (site.settings.data_dir / "escaped.txt").exists()


def test_explain_shows_the_precedence_between_the_distribution_and_the_mirror(
    site: Site, imported: Result
) -> None:
    assert imported.exit_code == 0, imported.output
    result = wasmfarm(site, "explain", "tinycolor", "--runtime", V)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    order = "setting lock_precedence: built > uploaded > pyodide > mirrored"
    assert lines[0] == (
        f"chosen   tinycolor-1.0-py3-none-any.whl: pyodide comes before mirrored ({order}); its newest "
        "installable version, best tag for the runtime [pyodide]"
    )
    assert lines[1] == (
        f"skipped  tinycolor-2.0-py3-none-any.whl: mirrored comes after pyodide ({order}), which has "
        "tinycolor-1.0-py3-none-any.whl [mirrored]"
    )
    reordered = wasmfarm(
        site,
        "explain",
        "tinycolor",
        "--runtime",
        V,
        env={"WASMFARM_LOCK_PRECEDENCE": '["mirrored", "pyodide"]'},
    )
    assert reordered.exit_code == 0, reordered.output
    assert reordered.stdout.startswith(
        "chosen   tinycolor-2.0-py3-none-any.whl: mirrored comes before pyodide"
    )
    bad = wasmfarm(site, "explain", "tinycolor", "--runtime", V, env={"WASMFARM_LOCK_PRECEDENCE": '["cdn"]'})
    assert bad.exit_code != 0 and "'cdn' is not an origin" in bad.output
    assert os.environ.get("WASMFARM_LOCK_PRECEDENCE") is None


def test_a_name_taken_by_other_content_is_kept_and_reported(
    site: Site, tmp_path: Path, imported: Result
) -> None:
    """The release's file of a name the mirror holds already with other content (as Pyodide's micropip differs from
    PyPI's) leaves the published file alone: the import goes on and says so, and the lock keeps the mirror's file."""
    assert imported.exit_code == 0, imported.output
    clash = make_wheel(
        tmp_path / "clash", "tinycolor", "2.0", module_source="NAME = 'rebuilt by the release'\n"
    )
    fresh = make_wheel(tmp_path / "clash", "freshcolor", "1.0")
    archive = make_release(
        site.published / "clash.tar.bz2",
        None,
        [Locked(clash, "tinycolor", "2.0"), Locked(fresh, "freshcolor", "1.0")],
        info=site.info,
    )
    result = wasmfarm(site, "runtime", "add", V, "--distribution", str(archive))
    assert result.exit_code == 0, result.output
    assert "wheels: 1 added, 0 present" in result.stdout
    assert (
        "kept: tinycolor-2.0-py3-none-any.whl (mirrored) has the same name and other content" in result.stderr
    )
    farm = Farm.open(site.settings)
    try:
        row = farm.catalog.file("tinycolor-2.0-py3-none-any.whl")
        assert row is not None and row.origin == "mirrored"
        assert row.sha256 != hashlib.sha256(clash.read_bytes()).hexdigest()
        lock = farm.locks.build(V).lock
    finally:
        farm.close()
    assert lock["packages"]["freshcolor"]["file_name"] == "freshcolor-1.0-py3-none-any.whl"
    assert (
        lock["packages"]["tinycolor"]["file_name"] == "tinycolor-1.0-py3-none-any.whl"
    )  # the first import's
