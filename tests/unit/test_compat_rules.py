"""The oracle's pure parts: what an sdist's sources need, why an index offers nothing, the verdict's JSON."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement

from farm.compat import judge
from farm.compat.probe import classify
from farm.compat.verdict import BuildRef, Code, Evidence, FileRef, Status, Verdict, json_schema
from farm.mirror.offer import Shortfall, unmet
from farm.mirror.upstream import UpstreamFile, UpstreamProject
from farm.runtime.target import target_for

TARGET = target_for("314.0.7")


@pytest.mark.parametrize(
    ("names", "sources", "languages", "unsupported"),
    [
        (["p-1/p.py", "p-1/PKG-INFO"], [], [], []),
        (["p-1/src/p/_x.c", "p-1/tests/t.c", "p-1/docs/example.cpp"], ["src/p/_x.c"], ["C"], []),
        (["p-1/p/_x.pyx", "p-1/p/core.cpp", "p-1/p/a.h"], ["p/_x.pyx", "p/core.cpp"], ["C++", "Cython"], []),
        (
            ["p-1/Cargo.toml", "p-1/src/lib.rs", "p-1/p/x.c"],
            ["Cargo.toml", "p/x.c", "src/lib.rs"],
            ["C", "Rust"],
            ["Rust"],
        ),
        (["p-1/lib/solve.F90"], ["lib/solve.F90"], ["Fortran"], ["Fortran"]),
    ],
)
def test_sources_and_toolchains(
    names: list[str], sources: list[str], languages: list[str], unsupported: list[str]
) -> None:
    report = classify(names)
    assert (list(report.sources), list(report.languages), list(report.unsupported)) == (
        sources,
        languages,
        unsupported,
    )


def page(*filenames: str, requires_python: str | None = None) -> UpstreamProject:
    files = tuple(
        UpstreamFile(name, f"https://up/{name}", "0" * 64, requires_python, False, None, None, False)
        for name in filenames
    )
    return UpstreamProject("demo", "https://up/demo/", files)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("requirement", "project", "code", "text"),
    [
        ("demo", None, Shortfall.NO_SUCH_PROJECT, "the index has no such project"),
        ("demo>2", page("demo-1.0.tar.gz"), Shortfall.NO_SUCH_VERSION, "no such version: nothing matches >2"),
        ("demo", page("demo-1.0.tar.gz"), Shortfall.ONLY_SDIST, "only an sdist for this runtime"),
        (
            "demo",
            page("demo-1.0-cp314-cp314-manylinux_2_17_x86_64.whl"),
            Shortfall.NO_FILE_FOR_TAGS,
            "no file for this runtime's tags: no sdist, only wheels for manylinux_2_17_x86_64",
        ),
        (
            "demo",
            page("demo-1.0-py3-none-any.whl", requires_python="<3.12"),
            Shortfall.REQUIRES_PYTHON,
            "its wheels require Python <3.12; Pyodide 314.0.7 has Python 3.14.2",
        ),
        ("demo", page("demo-1.0-py3-none-any.whl"), None, ""),
        ("demo", page("demo-1.0rc1-py3-none-any.whl"), None, ""),  # a pre-release when nothing else matches
    ],
)
def test_why_an_index_offers_nothing(
    requirement: str, project: UpstreamProject | None, code: Shortfall | None, text: str
) -> None:
    found = unmet(Requirement(requirement), project, TARGET, "the index")
    assert (found.code if found else None) == code
    assert found is None or found.text.startswith(text), found


def test_a_build_decides_a_buildable_verdict() -> None:
    subject = judge.Subject("demo", "demo", "1.0", "314.0.7")
    sdist = FileRef("demo-1.0.tar.gz", "0" * 64, "https://up/demo-1.0.tar.gz", "upstream")
    report = classify(["demo-1.0/demo/_x.c"])
    failed = BuildRef(7, "failed", "build", "/builds/7", "r/meta.yaml", "the build failed (exit 1)\nmore")
    running = BuildRef(8, "running", "verify", "/builds/8", "r/meta.yaml")
    assert judge.from_sdist(subject, sdist, report, None, None, "k").code is Code.SDIST_COMPILED
    verdict = judge.from_sdist(subject, sdist, report, "r/meta.yaml", failed, "k")
    assert (verdict.status, verdict.reason) == (
        Status.FAILS,
        "the build failed at step build (/builds/7): the build failed (exit 1)",
    )
    verdict = judge.from_sdist(subject, sdist, report, "r/meta.yaml", running, "k")
    assert (verdict.code, verdict.reason) == (Code.BUILDING, "being built: /builds/8 (running, step verify)")


def test_verdict_json_round_trip_and_schema() -> None:
    inner = Verdict("ghost", "ghost", None, "314.0.7", Status.FAILS, Code.NO_SUCH_PROJECT, "no such project")
    verdict = Verdict(
        "needy", "needy", "1.0", "314.0.7", Status.FAILS, Code.DEPENDENCY_MISSING, "needs ghost",
        Evidence(dependency=inner, imports={"needy": "ok"}), input_key="k", check_id=3,
    )  # fmt: skip
    data = verdict.to_json()
    assert data["status"] == "fails" and data["evidence"]["dependency"]["code"] == "no-such-project"
    assert Verdict.from_json(data) == verdict
    schema = json_schema()
    assert schema["$ref"] == "#/$defs/Verdict"  # recursive: a dependency's verdict is a verdict
    assert {"requirement", "status", "code", "reason", "evidence"} <= set(
        schema["$defs"]["Verdict"]["properties"]
    )
    assert set(schema["$defs"]["Status"]["enum"]) == {s.value for s in Status}
