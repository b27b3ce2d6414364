"""Is this server able to serve? The checks behind ``/health`` (liveness) and ``/ready`` (readiness).

``/health`` fails (503) only for what a restart or an operator must fix: the database does not answer, or the blob
store or page tree cannot be read. ``/ready`` also waits for what start-up brings: the configured runtimes
installed and the index rendered, so a load balancer sends no traffic to a server whose editor cannot boot yet.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from farm.runtime.distribution import RuntimeStore


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Health:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "failing",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
        }


def database(engine: Engine) -> Check:
    url = engine.url
    # An open SQLite connection keeps reading a deleted file's inode: the file itself must be there.
    sqlite_file = (
        url.database
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
        else None
    )
    if sqlite_file and not Path(sqlite_file).is_file():
        return Check("database", False, f"the SQLite database {sqlite_file} is gone")
    try:
        with engine.connect() as connection:  # a real table: an empty database file answers SELECT 1 too
            connection.execute(text("SELECT count(*) FROM alembic_version"))
    except SQLAlchemyError as exc:
        return Check("database", False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    return Check("database", True, engine.url.get_backend_name())


def readable_directory(name: str, path: Path) -> Check:
    if not path.is_dir():
        return Check(name, False, f"{path} is missing")
    if not os.access(path, os.R_OK | os.X_OK):
        return Check(name, False, f"{path} cannot be read by this process")
    return Check(name, True, str(path))


def liveness(engine: Engine, blob_dir: Path, www_dir: Path) -> Health:
    return Health(
        [database(engine), readable_directory("blob store", blob_dir), readable_directory("pages", www_dir)]
    )


def readiness(
    engine: Engine, blob_dir: Path, www_dir: Path, runtimes: RuntimeStore, wanted: Sequence[str]
) -> Health:
    health = liveness(engine, blob_dir, www_dir)
    for version in wanted:
        installed = runtimes.is_installed(version)
        detail = "installed" if installed else f"not installed yet (`wasmfarm runtime add {version}`)"
        health.checks.append(Check(f"runtime {version}", installed, detail))
    rendered = (www_dir / "simple" / "index.html").is_file()
    health.checks.append(Check("index", rendered, "rendered" if rendered else "not rendered yet"))
    return health
