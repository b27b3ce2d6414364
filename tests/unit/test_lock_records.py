"""What upstream locks said about held files, kept per runtime (``farm.runtime.lock_records``): a trusted lock's
entries merged by file name, one shared library per name, the distribution's entry winning for the same file, and the
runtime's lock listing the newest shared library of a name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from farm.runtime.lock_records import (
    index_roots,
    read_index_record,
    record_index_entries,
    recorded_blobs,
    recorded_entries,
)
from farm.runtime.lockfile import build_lock
from farm.runtime.target import target_for

V = "314.0.7"
INFO = {"abi_version": "2026_0", "platform": "emscripten_5_0_3", "python": "3.14.2", "arch": "wasm32"}


def entry(name: str, version: str, file_name: str, sha: str, **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "file_name": file_name,
        "sha256": sha * 64,
        "package_type": more.pop("package_type", "package"),
        "install_dir": more.pop("install_dir", "site"),
        "imports": more.pop("imports", []),
        "depends": more.pop("depends", []),
        "unvendored_tests": False,
    }


APP = entry("app", "1.0", "app-1.0-py3-none-any.whl", "a", imports=["app"], depends=["libfoo"])
LIB1 = entry("libfoo", "1.0", "libfoo-1.0.zip", "b", package_type="shared_library", install_dir="dynlib")
LIB2 = entry("libfoo", "2.0", "libfoo-2.0.zip", "c", package_type="shared_library", install_dir="dynlib")


def test_entries_merge_by_file_name_and_an_unchanged_record_is_not_written(tmp_path: Path) -> None:
    assert record_index_entries(tmp_path, V, "http://a/lock.json", "1" * 64, [APP, LIB1])
    path = tmp_path / V / "index-locks.json"
    written = path.stat().st_ino  # a write replaces the file (a new inode)
    assert not record_index_entries(tmp_path, V, "http://a/lock.json", "1" * 64, [APP])
    assert path.stat().st_ino == written
    record = read_index_record(tmp_path, V)
    assert set(record["packages"]) == {"app-1.0-py3-none-any.whl", "libfoo-1.0.zip"}
    assert record["packages"]["libfoo-1.0.zip"]["listed_by"] == "the trusted lock http://a/lock.json"
    assert record["packages"]["libfoo-1.0.zip"]["origin"] == "mirrored"
    assert index_roots(tmp_path, V) == {"app"}  # wheels only: a shared library is a dependency
    assert recorded_blobs(tmp_path) == {"b" * 64: f"Pyodide {V}: the trusted lock http://a/lock.json"}


def test_every_shared_library_a_lock_named_stays_recorded(tmp_path: Path) -> None:
    """A newer lock's libfoo 2.0 does not drop 1.0: its blob stays referenced (no orphan for fsck to delete), and the
    runtime's lock picks one of them (last test)."""
    record_index_entries(tmp_path, V, "http://a/lock.json", "1" * 64, [APP, LIB1])
    assert record_index_entries(tmp_path, V, "http://b/lock.json", "2" * 64, [LIB2])
    record = read_index_record(tmp_path, V)
    assert set(record["packages"]) == {"app-1.0-py3-none-any.whl", "libfoo-1.0.zip", "libfoo-2.0.zip"}
    assert set(record["locks"]) == {"http://a/lock.json", "http://b/lock.json"}
    assert set(recorded_blobs(tmp_path)) == {"b" * 64, "c" * 64}


def test_a_malformed_entry_of_an_edited_record_is_ignored_not_fatal(tmp_path: Path) -> None:
    record_index_entries(tmp_path, V, "http://a/lock.json", "1" * 64, [APP, LIB1])
    path = tmp_path / V / "index-locks.json"
    data = json.loads(path.read_text())
    data["packages"]["libfoo-1.0.zip"]["sha256"] = ""
    path.write_text(json.dumps(data))
    assert set(recorded_entries(tmp_path, V)) == {"app-1.0-py3-none-any.whl"}


def test_the_distributions_entry_wins_for_the_same_file(tmp_path: Path) -> None:
    record_index_entries(tmp_path, V, "http://a/lock.json", "1" * 64, [APP])
    theirs = {**APP, "imports": ["app", "app_extra"]}
    (tmp_path / V / "distribution.json").write_text(json.dumps({"packages": {"app": theirs}}))
    found = recorded_entries(tmp_path, V)["app-1.0-py3-none-any.whl"]
    assert found["imports"] == ["app", "app_extra"]
    assert found["listed_by"] == "the Pyodide distribution" and found["origin"] == "pyodide"


def test_the_runtime_lock_lists_one_shared_library_per_name_by_precedence_then_version() -> None:
    """The distribution's libfoo 1.0 (origin pyodide) against a trusted lock's 2.0 (mirrored): the setting
    lock_precedence decides first, as for wheels (the distribution's numpy was built against its own libfoo);
    within one origin the newest."""
    recorded = {
        LIB1["file_name"]: {**LIB1, "listed_by": "the Pyodide distribution", "origin": "pyodide"},
        LIB2["file_name"]: {**LIB2, "listed_by": "the trusted lock http://b/lock.json", "origin": "mirrored"},
    }
    built = build_lock({"info": INFO, "packages": {}}, [], target_for(V), distribution=recorded)
    assert built.lock["packages"]["libfoo"]["file_name"] == "libfoo-1.0.zip"
    notes = {c.filename: (c.chosen, c.reason, c.origin) for c in built.choices["libfoo"]}
    assert notes["libfoo-1.0.zip"] == (
        True,
        "the shared library listed by the Pyodide distribution (not a wheel)",
        "pyodide",
    )
    assert notes["libfoo-2.0.zip"] == (
        False,
        "mirrored comes after pyodide (setting lock_precedence: built > uploaded > pyodide > mirrored), which has "
        "libfoo-1.0.zip",
        "mirrored",
    )
    mirrored_first = build_lock(
        {"info": INFO, "packages": {}},
        [],
        target_for(V),
        distribution=recorded,
        precedence=("mirrored", "pyodide"),
    )
    assert mirrored_first.lock["packages"]["libfoo"]["file_name"] == "libfoo-2.0.zip"
    both_trusted = {f: {**e, "origin": "mirrored"} for f, e in recorded.items()}
    newest = build_lock({"info": INFO, "packages": {}}, [], target_for(V), distribution=both_trusted)
    assert newest.lock["packages"]["libfoo"]["file_name"] == "libfoo-2.0.zip"
    assert {c.filename: c.reason for c in newest.choices["libfoo"]}[
        "libfoo-1.0.zip"
    ] == "libfoo-2.0.zip is newer"


def test_a_recorded_version_past_ints_digits_orders_first_instead_of_failing_the_lock() -> None:
    """A trusted lock's entry versions are strings pyodide-lock does not check: one of 5,000 digits made
    ``Version()`` raise ValueError in every build of the runtime's lock."""
    huge = {**LIB2, "version": "9" * 5000, "file_name": "libfoo-huge.zip", "origin": "mirrored"}
    recorded = {LIB1["file_name"]: {**LIB1, "origin": "mirrored"}, huge["file_name"]: huge}
    built = build_lock({"info": INFO, "packages": {}}, [], target_for(V), distribution=recorded)
    assert built.lock["packages"]["libfoo"]["file_name"] == "libfoo-1.0.zip"
