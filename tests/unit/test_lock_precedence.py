"""Which wheel of a project a runtime's lock lists when several origins have one (setting lock_precedence), and
what an imported distribution's recorded metadata makes of its entries."""

from __future__ import annotations

import pytest

from farm.runtime.lockfile import DEFAULT_PRECEDENCE, build_lock, choose
from farm.runtime.target import target_for
from farm.store.models import DistFile

TARGET = target_for("314.0.7")
INFO = {"abi_version": "2026_0", "platform": "emscripten_5_0_3", "python": "3.14.2", "arch": "wasm32"}


def row(filename: str, origin: str, sha: str = "a") -> DistFile:
    version = filename.split("-")[1]
    return DistFile(
        project_id=1, filename=filename, version=version, kind="wheel", sha256=sha * 64, size=1, origin=origin
    )


ROWS = [
    row("demo-3.0-py3-none-any.whl", "mirrored"),
    row("demo-2.0-py3-none-any.whl", "pyodide"),
    row("demo-1.0-py3-none-any.whl", "uploaded"),
    row("demo-0.5-py3-none-any.whl", "built"),
    row("demo-0.9-py3-none-any.whl", "pyodide"),
]


@pytest.mark.parametrize(
    ("precedence", "chosen"),
    [
        (DEFAULT_PRECEDENCE, "demo-0.5-py3-none-any.whl"),  # built first, however old
        (("uploaded", "pyodide", "mirrored", "built"), "demo-1.0-py3-none-any.whl"),
        (("pyodide", "mirrored"), "demo-2.0-py3-none-any.whl"),  # newest of the pyodide ones
        (("mirrored",), "demo-3.0-py3-none-any.whl"),
        ((), "demo-3.0-py3-none-any.whl"),  # no order: the newest version, as before origins mattered
    ],
)
def test_the_first_origin_of_the_precedence_wins_then_the_newest(
    precedence: tuple[str, ...], chosen: str
) -> None:
    picked, choices = choose(ROWS, TARGET, precedence)
    assert picked["demo"].filename == chosen
    notes = {c.filename: c for c in choices["demo"]}
    assert [c.filename for c in choices["demo"] if c.chosen] == [chosen]
    assert all(c.origin for c in notes.values())


def test_skipped_candidates_say_which_origin_came_first() -> None:
    _picked, choices = choose(ROWS, TARGET, ("pyodide", "mirrored"))
    notes = {c.filename: c.reason for c in choices["demo"]}
    order = "setting lock_precedence: pyodide > mirrored"
    assert notes["demo-2.0-py3-none-any.whl"].startswith(
        f"pyodide comes before built, mirrored, uploaded ({order})"
    )
    assert notes["demo-3.0-py3-none-any.whl"] == (
        f"mirrored comes after pyodide ({order}), which has demo-2.0-py3-none-any.whl"
    )
    assert notes["demo-0.9-py3-none-any.whl"] == "older than 2.0"


def test_a_distribution_entry_carries_its_metadata_and_its_shared_library() -> None:
    wheel = row("demo-2.0-py3-none-any.whl", "pyodide", sha="b")
    distribution = {
        wheel.filename: {
            "name": "Demo",
            "version": "2.0",
            "file_name": wheel.filename,
            "sha256": wheel.sha256,
            "imports": ["demo", "demo_extra"],
            "depends": ["LibDemo"],
            "unvendored_tests": True,
        },
        "libdemo-1.0.zip": {
            "name": "libdemo",
            "version": "1.0",
            "file_name": "libdemo-1.0.zip",
            "sha256": "c" * 64,
            "package_type": "shared_library",
            "install_dir": "dynlib",
        },
        "libgone-1.0.zip": {  # depends on what nobody serves: left out, like any broken entry
            "name": "libgone",
            "version": "1.0",
            "file_name": "libgone-1.0.zip",
            "sha256": "d" * 64,
            "depends": ["nowhere"],
        },
    }
    built = build_lock({"info": INFO}, [wheel], TARGET, distribution=distribution)
    demo = built.lock["packages"]["demo"]
    assert demo["imports"] == ["demo", "demo_extra"] and demo["depends"] == ["libdemo"]
    assert demo["unvendored_tests"] is True
    assert built.lock["packages"]["libdemo"]["install_dir"] == "dynlib"
    assert "libgone" not in built.lock["packages"]

    other = row("demo-2.0-py3-none-any.whl", "pyodide", sha="e")  # not the file the distribution described
    plain = build_lock({"info": INFO}, [other], TARGET, distribution=distribution).lock["packages"]["demo"]
    assert plain["depends"] == [] and plain["unvendored_tests"] is False


def wheel(filename: str, origin: str, requires: tuple[str, ...] = ()) -> DistFile:
    found = row(filename, origin, sha=filename[0])
    found.core_metadata = "Metadata-Version: 2.1\nName: x\nVersion: 1\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    return found


def test_with_roots_the_lock_holds_them_and_their_dependencies_only() -> None:
    rows = [
        wheel("app-1.0-py3-none-any.whl", "built", ("helper>=1",)),
        wheel("helper-1.0-py3-none-any.whl", "mirrored", ("tiny",)),
        wheel("tiny-1.0-py3-none-any.whl", "mirrored"),
        wheel("bystander-1.0-py3-none-any.whl", "mirrored"),
    ]
    built = build_lock({"info": INFO}, rows, TARGET, roots=["App"])
    assert set(built.lock["packages"]) == {"app", "helper", "tiny"}  # a mirrored dependency comes along
    [note] = built.choices["bystander"]
    assert not note.chosen and note.reason.startswith("installable, but only mirrored")
    everything = build_lock({"info": INFO}, rows, TARGET)  # no roots: runtime_lock = all
    assert set(everything.lock["packages"]) == {"app", "helper", "tiny", "bystander"}


def test_parsed_metadata_is_kept_by_sha256_only_and_bounded() -> None:
    from farm.runtime.lockfile import _ParsedBySha, requires_dist

    parsed = _ParsedBySha(2)
    calls: list[str] = []

    def parse(text: str) -> tuple[str, ...]:
        calls.append(text)
        return (text.upper(),)

    assert parsed.get(("a",), lambda: parse("x")) == ("X",)
    assert parsed.get(("a",), lambda: parse("other text, same file")) == ("X",)  # the sha256 is the key
    parsed.get(("b",), lambda: parse("y"))
    parsed.get(("c",), lambda: parse("z"))  # full: the oldest ("a") goes
    assert parsed.get(("a",), lambda: parse("x again")) == ("X AGAIN",)
    assert calls == ["x", "y", "z", "x again"]
    assert all(isinstance(v, tuple) for v in parsed._items.values()) and len(parsed._items) == 2
    assert requires_dist(wheel("app-1.0-py3-none-any.whl", "built", ("helper>=1",))) == ["helper>=1"]
