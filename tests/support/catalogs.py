"""Big catalogs made fast: rows as the catalog records mirrored projects, without their files (pages and the
``own`` runtime lock are made of rows; nothing reads the blobs of such projects). Inserted in bulk with SQLAlchemy
Core, 1,000 projects a statement, so 100,000 take seconds rather than the minutes the catalog's per-project path
would."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlmodel import col

from farm.context import Farm
from farm.store.models import DistFile, Project

BATCH = 1000


def synthetic_projects(farm: Farm, start: int, stop: int, prefix: str = "filler") -> None:
    """Projects ``<prefix><i>`` for i in [start, stop), one pure wheel each, recorded as mirrored and not yet
    rendered (serial 1, rendered serial 0)."""
    now = datetime.now(UTC)
    for first in range(start, stop, BATCH):
        names = [f"{prefix}{i:06d}" for i in range(first, min(stop, first + BATCH))]
        with farm.engine.begin() as conn:
            conn.execute(
                insert(Project),
                [
                    {"name": n, "display_name": n, "serial": 1, "rendered_serial": 0, "created_at": now}
                    for n in names
                ],
            )
            ids = dict(
                conn.execute(select(Project.name, Project.id).where(col(Project.name).in_(names))).all()
            )
            rows = []
            for name in names:
                filename = f"{name}-1.0-py3-none-any.whl"
                rows.append(
                    {
                        "project_id": ids[name],
                        "filename": filename,
                        "version": "1.0",
                        "kind": "wheel",
                        "tags": "py3-none-any",
                        "sha256": hashlib.sha256(filename.encode()).hexdigest(),
                        "size": 1234,
                        "yanked": False,
                        "yank_local": False,
                        "upload_time": now,
                        "origin": "mirrored",
                    }
                )
            conn.execute(insert(DistFile), rows)
