"""Per-test results of a recipe's test files and the verdict of a verification. Pure: no I/O.

pytest reports each test in phases (setup, call, teardown; collection for a file that fails to import). They are
merged into one result per node id the way pytest's own junitxml does: an error in setup or teardown is an
``error``, a failing call a ``failure``, a skip (or an expected failure) a ``skip``, and the seconds are those of all
phases together (so the first test of a file also pays for booting the runtime).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

OUTCOMES = ("passed", "failed", "skipped", "error")
MESSAGE_LIMIT = 4000  # characters of a failure's report kept (its end: where the assertion is)


@dataclass(frozen=True)
class TestResult:
    outcome: str  # one of OUTCOMES
    seconds: float
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "seconds": round(self.seconds, 3), "message": self.message}


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MESSAGE_LIMIT else "..." + text[-MESSAGE_LIMIT:]


def merge_phases(phases: Iterable[Mapping[str, Any]]) -> dict[str, TestResult]:
    """One result per node id from the plugin's lines ``{nodeid, when, outcome, seconds, message, xfail}``."""
    state: dict[str, dict[str, Any]] = {}
    for phase in phases:
        nodeid, when, outcome = str(phase["nodeid"]), str(phase["when"]), str(phase["outcome"])
        entry = state.setdefault(nodeid, {"outcome": None, "seconds": 0.0, "message": ""})
        entry["seconds"] += float(phase.get("seconds") or 0.0)
        message = str(phase.get("message") or "")
        xfail = bool(phase.get("xfail"))
        if outcome == "failed":
            if when in ("setup", "teardown"):
                message = f"error in {when}: {message}"
            if when == "call":
                entry["outcome"] = "failed"
            elif entry["outcome"] != "failed":
                entry["outcome"] = "error"
            entry["message"] = _clip("\n".join(m for m in (entry["message"], message) if m))
        elif outcome == "skipped":
            entry["outcome"] = "skipped"
            entry["message"] = _clip(("expected failure: " if xfail else "") + message)
        elif when == "call":  # passed
            entry["outcome"] = "passed"
            if xfail:
                entry["message"] = _clip("passed unexpectedly (xfail): " + message)
    results = {}
    for nodeid, entry in state.items():
        outcome = entry["outcome"] or "error"  # set up but never called: interrupted
        message = entry["message"] or ("the test did not run to its end" if entry["outcome"] is None else "")
        results[nodeid] = TestResult(outcome, entry["seconds"], message)
    return results


def summary(tests: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for result in tests.values():
        counts[str(result["outcome"])] += 1
    return counts


def is_ok(report: Mapping[str, Any]) -> bool:
    """At least one module imported, every import ok, no test failed or errored (skips are fine), no error."""
    imports: Mapping[str, str] = report.get("imports") or {}
    tests: Mapping[str, Mapping[str, Any]] = report.get("tests") or {}
    if report.get("error") or not imports:
        return False
    if any(result != "ok" for result in imports.values()):
        return False
    return all(result["outcome"] in ("passed", "skipped") for result in tests.values())


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else "(no message)"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no message)"


def failures(report: Mapping[str, Any]) -> list[str]:
    """What made a verification fail, one line each (for a build's error and log)."""
    found = []
    if report.get("error"):
        found.append(str(report["error"]))
    imports: Mapping[str, str] = report.get("imports") or {}
    if not imports and not report.get("error"):
        found.append("no module was imported, so nothing was verified")
    found += [f"import {name}: {_last_line(result)}" for name, result in imports.items() if result != "ok"]
    tests: Mapping[str, Mapping[str, Any]] = report.get("tests") or {}
    found += [
        f"{nodeid}: {result['outcome']}: {_first_line(str(result['message']))}"
        for nodeid, result in tests.items()
        if result["outcome"] in ("failed", "error")
    ]
    return found
