"""Kept compatibility checks made up in bulk (for the /compat pages' tests and benchmark): ``count`` current
checks spread over the verdicts, each a real ``Verdict`` as the store keeps it, inserted in one transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from farm.compat.verdict import Code, Evidence, FileRef, Node, Status, Verdict
from farm.store.models import CompatCheck
from farm.store.version_key import version_key

KINDS = [
    (Status.WORKS, Code.IMPORTED, "installed with micropip and imported ({name}) in Pyodide {runtime}"),
    (Status.AVAILABLE, Code.WHEEL_UPSTREAM, "{name}-1.0-py3-none-any.whl is upstream, not mirrored"),
    (Status.BUILDABLE, Code.SDIST_COMPILED, "only an sdist, with C code (1 file) this farm compiles"),
    (Status.FAILS, Code.NO_FILE_FOR_TAGS, "no file for this runtime's tags: only wheels for manylinux"),
    (Status.FAILS, Code.IMPORT_FAILED, "import {name} fails in Pyodide {runtime}: ImportError: no threads"),
]


def verdict_for(name: str, runtime: str, index: int, checked_at: datetime) -> Verdict:
    status, code, reason = KINDS[index % len(KINDS)]
    wheel = FileRef(
        f"{name}-1.0-py3-none-any.whl", f"{index:064x}", f"files/aa/{index:064x}/{name}.whl", "mirrored"
    )
    evidence = Evidence(
        wheel=wheel if status is not Status.BUILDABLE else None,
        closure=(Node(name, "1.0", wheel.filename, wheel.sha256, status is Status.WORKS),),
        imports={name.replace("-", "_"): "ok"} if status is Status.WORKS else {},
    )
    return Verdict(
        requirement=name,
        project=name,
        version="1.0",
        runtime=runtime,
        status=status,
        code=code,
        reason=reason.format(name=name, runtime=runtime),
        evidence=evidence,
        input_key=f"{index:064x}",
        checked_at=checked_at,
        seconds=round(0.5 + index % 7 / 10, 2),
        ran=status is Status.WORKS,
    )


def seed_checks(engine: Engine, count: int, runtimes: Sequence[str], prefix: str = "project") -> None:
    """``count`` projects (``<prefix>-00000`` ...), each with a current check on every runtime."""
    start = datetime(2026, 12, 1, tzinfo=UTC)
    rows = []
    for index in range(count):
        name = f"{prefix}-{index:05d}"
        for offset, runtime in enumerate(runtimes):
            verdict = verdict_for(name, runtime, index + offset, start + timedelta(seconds=index))
            wheel = verdict.evidence.wheel
            rows.append(
                {
                    "project": verdict.project,
                    "version": verdict.version,
                    "version_key": version_key(verdict.version),
                    "runtime": runtime,
                    "requirement": verdict.requirement,
                    "status": verdict.status.value,
                    "code": verdict.code.value,
                    "reason": verdict.reason,
                    "wheel_filename": wheel.filename if wheel else None,
                    "wheel_sha256": wheel.sha256 if wheel else None,
                    "input_key": verdict.input_key,
                    "current": True,
                    "ran": verdict.ran,
                    "checked_at": verdict.checked_at,
                    "seconds": verdict.seconds,
                    "log": None,
                    "verdict": json.dumps(verdict.to_json(), separators=(",", ":")),
                }
            )
    with engine.begin() as connection:
        for start_at in range(0, len(rows), 2000):
            connection.execute(insert(CompatCheck), rows[start_at : start_at + 2000])
