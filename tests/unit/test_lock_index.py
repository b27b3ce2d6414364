"""What a runtime's lock offers the editor: completion of project names and the project behind an import name
(``farm.runtime.lock_index``), on a small lock made as the publisher makes them, and on the stdlib archive and the
published files of a runtime directory."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from farm.errors import BadRequest, NotFound
from farm.runtime.lock_index import (
    MAX_MODULES,
    LockIndex,
    Provision,
    PublishedLocks,
    import_names,
    name_prefix,
    stdlib_names,
)


def package(
    name: str, version: str, imports: list[str], depends: tuple[str, ...] = (), kind: str = "package"
) -> dict[str, Any]:
    return {
        "name": name, "version": version, "file_name": f"{name}-{version}-py3-none-any.whl", "install_dir": "site",
        "sha256": "0" * 64, "package_type": kind, "imports": imports, "depends": list(depends),
        "unvendored_tests": False, "tool": {},
    }  # fmt: skip


LOCK: dict[str, Any] = {
    "info": {"abi_version": "2026_0", "platform": "emscripten_5_0_3", "python": "3.14.2", "arch": "wasm32"},
    "packages": {
        "micropip": package("micropip", "0.11.1", ["micropip"], ["packaging"]),
        "packaging": package("packaging", "26.1", ["packaging"]),
        "pyyaml": package("pyyaml", "6.0.3", ["_yaml", "yaml"]),
        "yaml-backport": package("yaml-backport", "1.0", ["yaml"]),
        "colorname": package("colorname", "2.1", ["colorname"]),
        "color-tools": package("color-tools", "1.0", []),  # no imports recorded
        "typing-extensions": package("typing-extensions", "4.15.0", ["typing_extensions", "typing"]),
        "libtiny": package("libtiny", "1.0", [], kind="shared_library"),
    },
}
INDEX = LockIndex.of(LOCK, {"os", "json", "typing", "pyodide"})


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("col", [("color-tools", "1.0"), ("colorname", "2.1")]),
        ("color-", [("color-tools", "1.0")]),
        ("colorn", [("colorname", "2.1")]),
        ("py", [("pyyaml", "6.0.3")]),
        ("lib", []),  # a shared library is no requirement
        ("zzz", []),
        ("", [("color-tools", "1.0"), ("colorname", "2.1"), ("micropip", "0.11.1")]),
    ],
)
def test_completion_by_prefix_in_name_order(typed: str, expected: list[tuple[str, str]]) -> None:
    assert INDEX.complete(name_prefix(typed), limit=3) == expected


@pytest.mark.parametrize(
    ("typed", "normal"), [("Color_N", "color-n"), ("a..b__c", "a-b-c"), ("PyYAML", "pyyaml")]
)
def test_a_typed_prefix_is_normalised_as_names_are(typed: str, normal: str) -> None:
    assert name_prefix(typed) == normal


@pytest.mark.parametrize("typed", ["msgpack>=1", "a b", "<script>", "x" * 101, "é", "a%"])
def test_a_prefix_no_name_can_start_with_is_refused(typed: str) -> None:
    with pytest.raises(BadRequest, match="not the start of a project name"):
        name_prefix(typed)


def test_the_limit_is_bounded() -> None:
    many = LockIndex.of({"packages": {f"p{i:03}": package(f"p{i:03}", "1", []) for i in range(200)}}, ())
    assert len(many.complete("p", limit=1000)) == 50
    assert len(many.complete("p", limit=0)) == 1


def test_imports_map_to_the_project_that_provides_them() -> None:
    found = {p.module: p for p in INDEX.provide(["yaml", "colorname", "color_tools", "os", "js", "requests"])}
    yaml = found["yaml"]
    assert (yaml.provision, yaml.project, yaml.version, yaml.others) == (
        Provision.MIRRORED, "pyyaml", "6.0.3", ("yaml-backport",),
    )  # fmt: skip
    assert (found["colorname"].provision, found["colorname"].project) == (Provision.MIRRORED, "colorname")
    assert found["color_tools"].project == "color-tools"  # no imports recorded: its own name
    assert found["os"].provision is Provision.STDLIB and found["os"].project is None
    assert found["js"].provision is Provision.STDLIB  # Pyodide's FFI
    assert found["requests"].provision is Provision.UNKNOWN and found["requests"].project is None


def test_what_every_lock_carries_needs_no_requirement() -> None:
    packaging, micropip = INDEX.provide(["packaging", "micropip"])
    assert (packaging.provision, packaging.project) == (Provision.INCLUDED, "packaging")
    assert (micropip.provision, micropip.project) == (Provision.INCLUDED, "micropip")


def test_the_runtimes_own_module_wins_over_a_backport() -> None:
    (typing,) = INDEX.provide(["typing"])
    assert typing.provision is Provision.STDLIB and typing.others == ("typing-extensions",)


def test_a_project_named_like_the_import_comes_first() -> None:
    lock = {"packages": {n: package(n, "1", ["shared"]) for n in ("aaa", "shared", "zzz")}}
    (shared,) = LockIndex.of(lock, ()).provide(["shared"])
    assert (shared.project, shared.others) == ("shared", ("aaa", "zzz"))


def test_import_names_are_checked() -> None:
    assert import_names(["yaml", "os", "yaml"]) == ["yaml", "os"]
    for bad in ["yaml.loader", "", "1x", "a-b", "x" * 101, "é"]:
        with pytest.raises(BadRequest, match="not a top-level module name"):
            import_names([bad])
    with pytest.raises(BadRequest, match=f"at most {MAX_MODULES}"):
        import_names(["m"] * (MAX_MODULES + 1))


def test_the_stdlib_archive_names_the_runtimes_modules(tmp_path: Path) -> None:
    archive = tmp_path / "python_stdlib.zip"
    with zipfile.ZipFile(archive, "w") as stdlib:
        for member in ["annotationlib.py", "_pyodide/__init__.py", "pyodide/ffi.py", "site-packages/x.py"]:
            stdlib.writestr(member, "")
    names = stdlib_names(archive)
    assert {"annotationlib", "_pyodide", "pyodide", "os", "sys"} <= names
    assert "site-packages" not in names


def test_published_locks_follow_the_catalog(tmp_path: Path) -> None:
    class Runtimes:
        def path(self, version: str) -> Path:
            return tmp_path / version

    state = {"marker": 1, "lock": LOCK, "made": 0}

    def servable(version: str) -> dict:
        state["made"] += 1
        return dict(state["lock"])

    locks = PublishedLocks(Runtimes(), lambda: state["marker"], servable, recheck=0)  # type: ignore[arg-type]
    with pytest.raises(NotFound, match=r"wasmfarm runtime add 314\.0\.7"):
        locks.index("314.0.7")
    directory = tmp_path / "314.0.7"
    directory.mkdir()
    (directory / "pyodide-lock.json").write_text("{}")  # installed: its own lock is there
    first = locks.index("314.0.7")
    assert locks.index("314.0.7") is first and state["made"] == 1  # the catalog unchanged: not made again
    state["lock"] = {
        **LOCK,
        "packages": {**LOCK["packages"], "newcomer": package("newcomer", "1", ["newcomer"])},
    }
    state["marker"] = 2
    assert locks.index("314.0.7").complete("new") == [("newcomer", "1")] and state["made"] == 2
    lagging = PublishedLocks(Runtimes(), lambda: state["marker"], servable, recheck=3600)  # type: ignore[arg-type]
    lagging.index("314.0.7")
    state["marker"] = 3
    lagging.index("314.0.7")
    assert state["made"] == 3  # the marker is asked at most once per recheck: the change shows later
