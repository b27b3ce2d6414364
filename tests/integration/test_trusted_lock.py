"""Mirroring from an index of Pyodide wheels the operator trusts, with the ``pyodide-lock.json`` published beside it
(as pyodide-recipes publishes its index and lock): the wheels keep the lock's metadata (imports, depends, unvendored
tests) in the runtime's own lock, the shared libraries they need come from beside the lock, verified, and are served
by the mirror; a lock that disagrees with the index, a tampered shared library, a lock for another runtime and
hostile locks are refused with the store left usable."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from farm.context import Farm
from farm.runtime.install import install_runtime
from farm.runtime.lock_records import read_index_record
from farm.settings import Settings
from tests.conftest import CACHE, PYODIDE_VERSION
from tests.support.distribution import FileServer, Locked, npm_info, publish_index, release_files
from tests.support.npm_registry import NpmRegistryServer
from tests.support.server import free_port, serve_thread
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel

V = PYODIDE_VERSION
HELLO = "hello_dist-1.0-py3-none-any.whl"
TINY = "tinycolor-1.0-py3-none-any.whl"


@dataclass
class Index:
    installed: Path  # a data directory with the runtime installed, copied by each test
    index_url: str  # the trusted simple index
    locks_url: str  # the file server of the locks, one folder per scenario
    locks_dir: Path
    files: list[Locked]
    info: dict[str, object]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, pyodide_dir: Path) -> Iterator[Index]:
    """Pyodide 314.0.7 installed (npm runtime, micropip from a PyPI stand-in); a trusted index serving hello-dist and
    tinycolor; its lock (``good/``) beside the shared library libtiny and hello-dist's test archive."""
    base = tmp_path_factory.mktemp("trusted")
    pypi = base / "pypi"
    pypi.mkdir()
    for name in ("micropip-0.11.1-py3-none-any.whl", "packaging-26.1-py3-none-any.whl"):
        shutil.copy(CACHE / "wheels" / name, pypi)
    tarball = CACHE / "npm" / f"pyodide-{V}.tgz"
    with UpstreamServer(pypi) as upstream, NpmRegistryServer({V: tarball}) as npm:
        settings = Settings(
            data_dir=base / "installed", port=free_port(), upstream_index=upstream.url, npm_registry=npm.url
        )
        farm = Farm.open(settings)
        try:
            install_runtime(farm, V)
        finally:
            farm.close()
    files = release_files(base / "made")
    info = npm_info(pyodide_dir)
    publish_index(files, base / "index", base / "locks" / "good", info)
    with contextlib.ExitStack() as servers:
        trusted = servers.enter_context(UpstreamServer(base / "index"))
        locks = servers.enter_context(FileServer(base / "locks"))
        yield Index(base / "installed", trusted.url, locks.url, base / "locks", files, info)


@dataclass
class Mirror:
    settings: Settings
    index: Index

    def wasmfarm(self, *args: str, env: dict[str, str] | None = None) -> Result:
        from index_server.cli import cli

        return CliRunner().invoke(
            cli,
            ["--data-dir", str(self.settings.data_dir), *args],
            env={"WASMFARM_PORT": str(self.settings.port), **(env or {})},
        )

    def mirror(self, *args: str, lock: str | None = "good") -> Result:
        trusted = ["--pyodide-lock", f"{self.index.locks_url}{lock}/pyodide-lock.json"] if lock else []
        return self.wasmfarm("mirror", "--upstream", self.index.index_url, *trusted, *args)

    def lock(self, scope: str = "all") -> dict[str, dict[str, object]]:
        farm = Farm.open(self.settings)
        try:
            return dict(farm.locks.build(V, scope=scope).lock["packages"])  # type: ignore[arg-type]
        finally:
            farm.close()

    def rows(self) -> dict[str, str]:
        farm = Farm.open(self.settings)
        try:
            return {
                r.filename: r.origin for n in farm.catalog.project_names() for r in farm.catalog.wheels_of(n)
            }
        finally:
            farm.close()


@pytest.fixture
def mirror(index: Index, tmp_path: Path) -> Mirror:
    data = tmp_path / "data"
    shutil.copytree(index.installed, data, symlinks=True)
    return Mirror(Settings(data_dir=data, port=free_port()), index)


def scenario(index: Index, name: str, files: list[Locked], info: dict[str, object] | None = None) -> Path:
    """Another lock folder on the locks' server: ``files``' lock and the files that are not wheels."""
    folder = index.locks_dir / name
    publish_index(files, folder / "unused-index", folder, info or index.info)
    return folder


def test_mirroring_keeps_the_trusted_lock_metadata_and_fetches_the_shared_library(mirror: Mirror) -> None:
    plain = mirror.mirror("hello-dist", lock=None)
    assert plain.exit_code == 0, plain.output
    before = mirror.lock()
    assert before["hello-dist"]["depends"] == []  # its METADATA names no dependency: only the lock does
    assert "libtiny" not in before and "tinycolor" not in before

    trusted = mirror.mirror("hello-dist")
    assert trusted.exit_code == 0, trusted.output
    assert "trusted lock: metadata kept for 2 wheels, 1 shared libraries" in trusted.stderr, trusted.stderr
    assert mirror.rows() == {HELLO: "mirrored", TINY: "mirrored", **_essentials(mirror)}
    packages = mirror.lock()
    lock_url = f"{mirror.index.locks_url}good/pyodide-lock.json"
    assert packages["hello-dist"]["depends"] == ["libtiny", "tinycolor"]
    assert packages["hello-dist"]["imports"] == ["hello_dist"]
    assert packages["hello-dist"]["unvendored_tests"] is True
    assert packages["libtiny"]["package_type"] == "shared_library"
    assert packages["libtiny"]["install_dir"] == "dynlib"
    assert "hello-dist-tests" not in packages  # nothing loaded needs the test archive: not fetched
    own = mirror.lock(scope="own")  # the setting runtime_lock = own lists them too: loadPackage by name
    assert {"hello-dist", "tinycolor", "libtiny"} <= set(own)

    with serve_thread(mirror.settings) as url:
        base = url + f"pyodide/{V}/"
        served = httpx.get(base + "pyodide-lock.json").json()["packages"]
        assert served["hello-dist"] == packages["hello-dist"]
        for name in ("hello-dist", "tinycolor", "libtiny"):
            file = httpx.get(base + str(served[name]["file_name"]))
            assert file.status_code == 200, served[name]["file_name"]
            assert hashlib.sha256(file.content).hexdigest() == served[name]["sha256"]
        locked = httpx.post(url + f"r/{V}/lock", json={"requirements": ["hello-dist"]})
        assert locked.status_code == 200, locked.text
        assert {"hello-dist", "tinycolor", "libtiny"} <= set(locked.json()["packages"])

    explained = mirror.wasmfarm("explain", "libtiny", "--runtime", V)
    assert explained.exit_code == 0, explained.output
    assert explained.stdout.startswith(
        f"chosen   libtiny-1.0.zip: the shared library listed by the trusted lock {lock_url} (not a wheel) "
        "[mirrored]"
    ), explained.stdout
    listed = mirror.wasmfarm("runtime", "list")
    assert listed.exit_code == 0, listed.output
    assert f"  trusted lock: {lock_url} (sha256 " in listed.stdout
    assert "metadata of 3 files" in listed.stdout
    fsck = mirror.wasmfarm("fsck", "--json")
    assert fsck.exit_code == 0, fsck.output
    assert not [f for f in json.loads(fsck.stdout)["findings"] if f["kind"] == "orphan"]

    record = mirror.settings.runtime_dir / V / "index-locks.json"
    kept = record.read_bytes()
    again = mirror.mirror("hello-dist")
    assert again.exit_code == 0, again.output
    assert "0 downloaded" in again.stderr and "2 already present" in again.stderr, again.stderr
    assert record.read_bytes() == kept  # nothing new: the record is not written again


def test_a_wheel_whose_sha256_differs_from_the_lock_is_refused(mirror: Mirror, tmp_path: Path) -> None:
    """The lock was made for other bytes than the index serves: the two disagree, so the wheel is not mirrored."""
    other = make_wheel(
        tmp_path / "other", "hello-dist", "1.0", module_source="def hello():\n    return 'other'\n"
    )
    files = [
        Locked(other, "hello-dist", "1.0", imports=["hello_dist"], depends=["libtiny"]),
        mirror.index.files[2],
    ]
    scenario(mirror.index, "wrong-sha", files)
    result = mirror.mirror("hello-dist", lock="wrong-sha")
    assert result.exit_code == 1, result.output
    served = hashlib.sha256((mirror.index.installed.parent / "index" / HELLO).read_bytes()).hexdigest()
    assert (
        f"{HELLO}: the upstream index {mirror.index.index_url} gives sha256 {served}, the trusted lock"
        in (result.stderr)
    )
    dry = mirror.mirror("hello-dist", "--dry-run", lock="wrong-sha")
    assert dry.exit_code == 1 and f"error: {HELLO}: the upstream index" in dry.stderr, dry.output
    assert HELLO not in mirror.rows()
    assert not (mirror.settings.runtime_dir / V / "index-locks.json").exists()


def test_a_tampered_shared_library_is_refused_and_its_wheel_left_out_of_the_lock(mirror: Mirror) -> None:
    folder = scenario(mirror.index, "bad-library", mirror.index.files)
    library = folder / "libtiny-1.0.zip"
    library.write_bytes(library.read_bytes() + b"tampered")
    result = mirror.mirror("hello-dist", lock="bad-library")
    assert result.exit_code == 1, result.output
    assert "libtiny-1.0.zip (shared library of the trusted lock" in result.stderr
    assert "sha256" in result.stderr
    stored = {p.name for p in mirror.settings.blob_dir.glob("??/*")}
    assert hashlib.sha256(library.read_bytes()).hexdigest() not in stored
    packages = mirror.lock()
    assert "libtiny" not in packages and "hello-dist" not in packages  # it would fail to load without libtiny
    explained = mirror.wasmfarm("explain", "hello-dist", "--runtime", V)
    assert "needs libtiny, which the mirror cannot serve" in explained.stdout, explained.output
    assert mirror.wasmfarm("fsck").exit_code == 0


def test_a_lock_for_another_runtime_is_refused_before_anything_is_mirrored(mirror: Mirror) -> None:
    scenario(mirror.index, "other-abi", mirror.index.files, {**mirror.index.info, "abi_version": "2025_0"})
    before = mirror.rows()
    result = mirror.mirror("hello-dist", lock="other-abi")
    assert result.exit_code == 1, result.output
    assert "the lock is for ABI '2025_0'" in result.stderr
    assert f"none of the runtimes mirrored for: {V} (ABI 2026_0" in result.stderr
    assert mirror.rows() == before


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("not-json", "not a valid Pyodide lock"),
        ("no-packages", "not a valid Pyodide lock"),
        ("missing", "HTTP 404; give the URL of the pyodide-lock.json"),
        ("file-url", "give the http(s) URL of a pyodide-lock.json"),
    ],
)
def test_a_hostile_or_broken_lock_is_refused_with_a_reason(mirror: Mirror, kind: str, message: str) -> None:
    folder = mirror.index.locks_dir / kind
    folder.mkdir(exist_ok=True)
    if kind == "not-json":
        (folder / "pyodide-lock.json").write_bytes(b"\x00\xff{ not json")
    elif kind == "no-packages":
        (folder / "pyodide-lock.json").write_text(json.dumps({"info": mirror.index.info}))
    url = "file:///etc/passwd" if kind == "file-url" else f"{mirror.index.locks_url}{kind}/pyodide-lock.json"
    before = mirror.rows()
    result = mirror.wasmfarm(
        "mirror", "--upstream", mirror.index.index_url, "--pyodide-lock", url, "hello-dist"
    )
    assert result.exit_code == 1, result.output
    assert message in result.stderr, result.stderr
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert mirror.rows() == before


def test_an_entry_whose_file_name_is_a_path_is_skipped_not_followed(mirror: Mirror, tmp_path: Path) -> None:
    """A lock entry naming ``../x`` is never joined to the lock's URL; the rest of the lock is used."""
    folder = scenario(mirror.index, "path-entry", mirror.index.files)
    lock = json.loads((folder / "pyodide-lock.json").read_text())
    lock["packages"]["libtiny"]["file_name"] = "../good/libtiny-1.0.zip"
    (folder / "pyodide-lock.json").write_text(json.dumps(lock))
    result = mirror.mirror("hello-dist", lock="path-entry")
    assert result.exit_code == 1, result.output
    assert (
        "says it needs libtiny, which is not usable: its file name '../good/libtiny-1.0.zip' is not a plain file name of a wheel or an archive"
        in result.stderr
    )
    assert "libtiny" not in mirror.lock()


def _essentials(mirror: Mirror) -> dict[str, str]:
    return {
        name: origin for name, origin in mirror.rows().items() if name.startswith(("micropip-", "packaging-"))
    }


def edited_lock(mirror: Mirror, name: str, edit: Callable[[dict[str, Any]], None]) -> None:
    """A lock folder like ``good/`` with its lock changed by ``edit``."""
    folder = scenario(mirror.index, name, mirror.index.files)
    lock = json.loads((folder / "pyodide-lock.json").read_text())
    edit(lock["packages"])
    (folder / "pyodide-lock.json").write_text(json.dumps(lock))


@pytest.mark.parametrize("sha256", ["", "zz", "G" * 64])
def test_an_entry_without_a_usable_sha256_is_skipped_and_never_fetched_unchecked(
    mirror: Mirror, sha256: str
) -> None:
    """pyodide-lock accepts any string as sha256 (and "" by default); such an entry would be stored unverified."""
    edited_lock(mirror, f"sha-{len(sha256)}", lambda packages: packages["libtiny"].update(sha256=sha256))
    result = mirror.mirror("hello-dist", lock=f"sha-{len(sha256)}")
    assert result.exit_code == 1, result.output
    assert f"entry libtiny skipped: its sha256 {sha256!r} is not 64 hexadecimal digits" in result.stderr
    assert "says it needs libtiny, which is not usable" in result.stderr
    library = (mirror.index.locks_dir / "good" / "libtiny-1.0.zip").read_bytes()
    stored = {p.name for p in mirror.settings.blob_dir.glob("??/*")}
    assert hashlib.sha256(library).hexdigest() not in stored
    assert "hello-dist" not in mirror.lock()  # listed, it would fail to load without libtiny
    for command in (("fsck",), ("explain", "hello-dist", "--runtime", V), ("runtime", "list")):
        assert mirror.wasmfarm(*command).exit_code == 0, command


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("python_stdlib.zip", "is one of the runtime's own files"),
        ("pyodide.asm.wasm", "is not a plain file name of a wheel or an archive"),
        ("pyodide-lock.json", "is not a plain file name of a wheel or an archive"),
    ],
)
def test_an_entry_named_like_a_runtime_file_never_replaces_it(mirror: Mirror, name: str, why: str) -> None:
    runtime = mirror.settings.www_dir / "pyodide" / V
    before = {p.name: p.read_bytes() for p in runtime.iterdir() if p.is_file() and not p.is_symlink()}
    edited_lock(mirror, f"clash-{name}", lambda packages: packages["libtiny"].update(file_name=name))
    result = mirror.mirror("hello-dist", lock=f"clash-{name}")
    assert result.exit_code == 1, result.output
    assert f"entry libtiny skipped: its file name {name!r} {why}" in result.stderr
    after = {p.name: p.read_bytes() for p in runtime.iterdir() if p.is_file() and not p.is_symlink()}
    assert after.keys() >= before.keys() - {"pyodide-lock.json"}
    assert all(after[n] == before[n] for n in before if n != "pyodide-lock.json")  # the lock is regenerated
    assert not (runtime / name).is_symlink()


def test_metadata_is_found_by_file_name_whatever_the_lock_calls_the_entry(mirror: Mirror) -> None:
    def rename(packages: dict[str, Any]) -> None:
        packages["greeting-app"] = packages.pop("hello-dist")
        packages["greeting-app"]["name"] = "greeting-app"

    edited_lock(mirror, "renamed", rename)
    result = mirror.mirror("hello-dist", lock="renamed")
    assert result.exit_code == 0, result.output
    packages = mirror.lock()
    assert packages["hello-dist"]["depends"] == ["libtiny", "tinycolor"]


def test_a_pinned_lock_must_have_its_sha256(mirror: Mirror) -> None:
    lock = (mirror.index.locks_dir / "good" / "pyodide-lock.json").read_bytes()
    digest = hashlib.sha256(lock).hexdigest()
    wrong = mirror.mirror("hello-dist", "--pyodide-lock-sha256", "0" * 64)
    assert wrong.exit_code == 1 and f"sha256 {digest}, --pyodide-lock-sha256 says {'0' * 64}" in wrong.stderr
    assert HELLO not in mirror.rows()
    right = mirror.mirror("hello-dist", "--pyodide-lock-sha256", digest.upper())
    assert right.exit_code == 0, right.output
    assert f"sha256 {digest}, for Pyodide {V}" in right.stderr


def test_a_runtime_not_installed_yet_gets_the_record_for_later(index: Index, tmp_path: Path) -> None:
    """Mirroring for a configured runtime before `runtime add`: the metadata and the shared library are kept (no
    orphan), and its lock, once the runtime is installed, is made from them."""
    bare = Mirror(Settings(data_dir=tmp_path / "bare", port=free_port()), index)
    result = bare.mirror("hello-dist")
    assert result.exit_code == 0, result.output
    record = read_index_record(bare.settings.runtime_dir, V)
    assert {HELLO, TINY, "libtiny-1.0.zip"} <= set(record["packages"])
    fsck = bare.wasmfarm("fsck", "--json")
    assert fsck.exit_code == 0, fsck.output
    assert not [f for f in json.loads(fsck.stdout)["findings"] if f["kind"] == "orphan"]
