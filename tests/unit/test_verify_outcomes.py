"""Per-test outcomes merged from pytest's phases, the verdict, and what a failed verification says."""

from __future__ import annotations

import pytest

from farm.verify.outcomes import failures, is_ok, merge_phases, summary


def phase(nodeid: str, when: str, outcome: str, message: str = "", xfail: bool = False) -> dict[str, object]:
    return {
        "nodeid": nodeid,
        "when": when,
        "outcome": outcome,
        "seconds": 0.5,
        "message": message,
        "xfail": xfail,
    }


@pytest.mark.parametrize(
    ("phases", "outcome", "message"),
    [
        (
            [phase("t", "setup", "passed"), phase("t", "call", "passed"), phase("t", "teardown", "passed")],
            "passed",
            "",
        ),
        (
            [phase("t", "setup", "passed"), phase("t", "call", "failed", "AssertionError: x")],
            "failed",
            "AssertionError: x",
        ),
        ([phase("t", "setup", "failed", "boom")], "error", "error in setup: boom"),
        ([phase("t", "setup", "skipped", "no browser")], "skipped", "no browser"),
        (
            [phase("t", "setup", "passed"), phase("t", "call", "skipped", "later", xfail=True)],
            "skipped",
            "expected failure: later",
        ),
        (
            [
                phase("t", "setup", "passed"),
                phase("t", "call", "passed"),
                phase("t", "teardown", "failed", "leak"),
            ],
            "error",
            "error in teardown: leak",
        ),
        (
            [phase("t", "call", "failed", "first"), phase("t", "teardown", "failed", "then")],
            "failed",
            "first\nerror in teardown: then",
        ),
        (
            [phase("test_a.py", "collect", "failed", "ImportError: no numpy")],
            "error",
            "ImportError: no numpy",
        ),
        (
            [phase("t", "setup", "passed")],
            "error",
            "the test did not run to its end",
        ),  # killed at the deadline
    ],
)
def test_phases_merge_into_one_outcome(phases: list[dict[str, object]], outcome: str, message: str) -> None:
    [(_, result)] = merge_phases(phases).items()
    assert (result.outcome, result.message) == (outcome, message)
    assert result.seconds == 0.5 * len(phases)


def report(imports: dict[str, str], **tests: str) -> dict[str, object]:
    return {
        "imports": imports,
        "tests": {
            name: {"outcome": o, "seconds": 1.0, "message": f"{o} because\nsecond line"}
            for name, o in tests.items()
        },
    }


def test_verdict_needs_an_import_and_no_failed_test() -> None:
    assert is_ok(report({"a": "ok"}, t1="passed", t2="skipped"))
    assert not is_ok(report({}, t1="passed"))  # examined nothing it was asked to import
    assert not is_ok(report({"a": "Traceback ...\nImportError: a"}))
    assert not is_ok(report({"a": "ok"}, t1="passed", t2="error"))
    assert not is_ok({**report({"a": "ok"}), "error": "the import check crashed"})
    assert summary(report({"a": "ok"}, t1="passed", t2="skipped", t3="failed")["tests"]) == {  # type: ignore[arg-type]
        "passed": 1, "failed": 1, "skipped": 1, "error": 0,
    }  # fmt: skip


def test_failures_name_each_cause_in_one_line() -> None:
    assert failures(report({"a": "Traceback ...\nImportError: a"}, t1="failed", t2="skipped")) == [
        "import a: ImportError: a",
        "t1: failed: failed because",
    ]
    assert failures(report({})) == ["no module was imported, so nothing was verified"]
