"""The runtime snapshot cache: made once per runtime build, checked before every use, made again when damaged,
never used when it cannot be made (pure file work; the maker stands in for the sandboxed Node run)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from farm.errors import BuildError
from farm.verify.snapshot import RUNTIME_FILES, SnapshotCache


@pytest.fixture
def runtime_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "pyodide" / "314.0.7"
    directory.mkdir(parents=True)
    for name in RUNTIME_FILES:
        (directory / name).write_bytes(name.encode() * 100)
    return directory


class Maker:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, directory: Path, out: Path) -> None:
        self.calls += 1
        out.write_bytes(b"snapshot of " + str(directory).encode() + b" #" + str(self.calls).encode())


def test_made_once_then_reused(tmp_path: Path, runtime_dir: Path) -> None:
    cache, make = SnapshotCache(tmp_path / "snapshots"), Maker()
    first = cache.get("314.0.7", runtime_dir, sys.executable, make)
    again = cache.get("314.0.7", runtime_dir, sys.executable, make)
    assert first is not None and first == again and make.calls == 1
    assert first.read_bytes().endswith(b"#1")
    assert sorted(p.name for p in first.parent.iterdir()) == sorted(
        [first.name, first.with_suffix(".sha256").name]
    )


def test_a_damaged_snapshot_is_made_again(tmp_path: Path, runtime_dir: Path) -> None:
    cache, make = SnapshotCache(tmp_path / "snapshots"), Maker()
    path = cache.get("314.0.7", runtime_dir, sys.executable, make)
    assert path is not None
    data = bytearray(path.read_bytes())
    data[0] ^= 1
    path.write_bytes(bytes(data))
    assert cache.get("314.0.7", runtime_dir, sys.executable, make) == path
    assert make.calls == 2 and path.read_bytes().endswith(b"#2")


def test_another_runtime_build_gets_another_snapshot(tmp_path: Path, runtime_dir: Path) -> None:
    cache, make = SnapshotCache(tmp_path / "snapshots"), Maker()
    first = cache.get("314.0.7", runtime_dir, sys.executable, make)
    (runtime_dir / "python_stdlib.zip").write_bytes(b"another standard library")
    second = cache.get("314.0.7", runtime_dir, sys.executable, make)
    assert first is not None and second is not None and first != second and make.calls == 2


def test_none_when_it_cannot_be_made(tmp_path: Path, runtime_dir: Path) -> None:
    cache = SnapshotCache(tmp_path / "snapshots")

    def broken(directory: Path, out: Path) -> None:
        raise BuildError("the snapshot run failed (exit 1)")

    def silent(directory: Path, out: Path) -> None:
        pass  # wrote nothing

    assert cache.get("314.0.7", runtime_dir, sys.executable, broken) is None
    assert cache.get("314.0.7", runtime_dir, sys.executable, silent) is None
    assert cache.get("314.0.7", tmp_path / "missing", sys.executable, Maker()) is None
    assert not any(p.name.endswith(".part") for p in (tmp_path / "snapshots").iterdir())
