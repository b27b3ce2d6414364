"""A pytest plugin for the verification's test run: one JSON line per test phase, written as it happens.

Loaded with ``-p farm.verify.pytest_report --wasmfarm-report FILE`` inside the sandbox. Lines are appended and
flushed one by one, so a run killed at its deadline still tells which tests ran and which one hung;
``farm.verify.outcomes.merge_phases`` turns them into one result per test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--wasmfarm-report", metavar="FILE", help="append one JSON line per test phase to FILE")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--wasmfarm-report")
    if path:
        config.pluginmanager.register(PhaseWriter(Path(path)), "wasmfarm-phase-writer")


def _message(report: pytest.TestReport | pytest.CollectReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):  # (path, line, "Skipped: reason")
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    if report.failed:  # the one-line crash message first ("AssertionError: ..."), then pytest's whole report
        crash = getattr(report.longrepr, "reprcrash", None)
        headline = str(crash.message).strip() if crash is not None else ""
        return f"{headline}\n\n{report.longreprtext}" if headline else report.longreprtext
    return str(getattr(report, "wasxfail", "") or "")


class PhaseWriter:
    def __init__(self, path: Path) -> None:
        self.handle = path.open("a", buffering=1, encoding="utf-8")

    def _write(self, line: dict[str, Any]) -> None:
        self.handle.write(json.dumps(line) + "\n")

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._write(
            {
                "nodeid": report.nodeid,
                "when": report.when,
                "outcome": report.outcome,
                "seconds": report.duration,
                "message": _message(report),
                "xfail": hasattr(report, "wasxfail"),
            }
        )

    @pytest.hookimpl(trylast=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed or (report.skipped and report.nodeid):
            self._write(
                {
                    "nodeid": report.nodeid,
                    "when": "collect",
                    "outcome": report.outcome,
                    "seconds": 0.0,
                    "message": _message(report),
                    "xfail": False,
                }
            )

    def pytest_unconfigure(self) -> None:
        self.handle.close()
