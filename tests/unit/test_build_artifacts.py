"""The build cache shared between farms: an entry is whole or absent, and a tampered one is never reused."""

from __future__ import annotations

import json
from pathlib import Path

from farm.build.artifacts import ENTRY, ArtifactCache

KEY = "ab" * 32


def _artifact(tmp_path: Path, name: str = "demo-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl") -> Path:
    path = tmp_path / "built" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"PK\x03\x04 a wheel's bytes")
    return path


def test_kept_artifact_comes_back_with_what_the_build_knew(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache")
    wheel = _artifact(tmp_path)
    tests = _artifact(tmp_path, "demo_tests-1.0-py3-none-any.whl")
    cache.keep(KEY, wheel, tests, ["src/demo.c"], 12.345)
    logged: list[str] = []
    found = cache.lookup(KEY, logged.append)
    assert found is not None and not logged
    assert found.artifact.read_bytes() == wheel.read_bytes() and found.artifact.name == wheel.name
    assert found.unvendored_tests is not None and found.unvendored_tests.name == tests.name
    assert (found.native, found.build_seconds) == (["src/demo.c"], 12.35)
    assert cache.lookup("cd" * 32, logged.append) is None  # another key: a miss, nothing logged
    assert not logged
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [KEY]  # no temporary directory left


def test_first_writer_wins(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache")
    cache.keep(KEY, _artifact(tmp_path), None, [], 1.0)
    other = _artifact(tmp_path, "other-2.0-py3-none-any.whl")
    cache.keep(KEY, other, None, [], 2.0)
    found = cache.lookup(KEY, lambda _: None)
    assert found is not None and found.artifact.name.startswith("demo-1.0") and found.build_seconds == 1.0


def test_tampered_entry_is_removed_and_missed(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache")
    cache.keep(KEY, _artifact(tmp_path), None, [], 1.0)
    found = cache.lookup(KEY, lambda _: None)
    assert found is not None
    found.artifact.write_bytes(b"PK\x03\x04 something else")
    logged: list[str] = []
    assert cache.lookup(KEY, logged.append) is None
    assert "does not hash to" in logged[0] and not (tmp_path / "cache" / KEY).exists()


def test_unreadable_entry_and_escaping_names_are_missed(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache")
    entry = tmp_path / "cache" / KEY
    entry.mkdir(parents=True)
    (entry / ENTRY).write_text("{not json")
    logged: list[str] = []
    assert cache.lookup(KEY, logged.append) is None and "unreadable" in logged[0] and not entry.exists()

    outside = tmp_path / "secret.whl"
    outside.write_bytes(b"x")
    entry.mkdir()
    body = {"artifact": "../../secret.whl", "files": {"../../secret.whl": "0" * 64}, "build_seconds": 1,
            "built_at": 0}  # fmt: skip
    (entry / ENTRY).write_text(json.dumps(body))
    assert cache.lookup(KEY, logged.append) is None and not entry.exists() and outside.exists()


def test_a_crash_before_the_rename_leaves_no_entry(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache")
    half = tmp_path / "cache" / ".tmp-crashed"
    half.mkdir(parents=True)
    (half / "demo-1.0-py3-none-any.whl").write_bytes(b"half")
    assert cache.lookup(KEY, lambda _: None) is None
    cache.keep(KEY, _artifact(tmp_path), None, [], 1.0)  # a fresh temporary is left alone (it may be in use)
    assert cache.lookup(KEY, lambda _: None) is not None and half.exists()
