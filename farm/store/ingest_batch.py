"""Catalog rows for many staged files at once: one transaction per batch instead of one per file.

A file is staged first (``Ingestor.stage``: validated, its blob and metadata sidecar published, nothing in the
catalog yet); ``record`` then writes the rows of a batch of staged files together. What the per-file path guarantees
still holds for each file: the same name with the same content again is a no-op, the same name with other content is
a ``FileConflict`` for that file alone, and a row the database refuses (another writer added the name meanwhile, a
value it will not store) fails that file alone: the batch is then recorded file by file, so the others still land.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import DataError

from farm.errors import FarmError, FileConflict, InvalidDistribution
from farm.store.catalog import Catalog, NewFile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recorded:
    """One staged file's outcome: its row written (``created``), there already with this content, or ``error``."""

    new: NewFile
    created: bool = False
    error: FarmError | None = None


def record(catalog: Catalog, news: Sequence[NewFile]) -> list[Recorded]:
    """Record the rows of staged files, in the order given: one query for the names taken already, one transaction
    for the rest (a few statements, whatever their number). A refused transaction is retried file by file."""
    if not news:
        return []
    stored = catalog.stored_files(filenames=[new.filename for new in news])
    outcomes: dict[str, Recorded] = {}
    fresh: list[NewFile] = []
    for new in news:
        existing = stored.get(new.filename)
        if existing is None:
            fresh.append(new)
        elif existing.sha256 == new.sha256:
            outcomes[new.filename] = Recorded(new)
        else:
            outcomes[new.filename] = Recorded(new, error=_conflict(new, existing.sha256))
    try:
        catalog.add_files(fresh)
    except (FileConflict, DataError) as exc:
        log.info("a batch of %d rows was refused (%s); recording them one by one", len(fresh), exc)
        outcomes.update((new.filename, _record_one(catalog, new)) for new in fresh)
    else:
        outcomes.update((new.filename, Recorded(new, created=True)) for new in fresh)
    return [outcomes[new.filename] for new in news]


def _record_one(catalog: Catalog, new: NewFile) -> Recorded:
    try:
        _row, created = catalog.add_file(new)
    except FileConflict as exc:
        return Recorded(new, error=exc)
    except DataError as exc:
        error = InvalidDistribution(
            f"{new.filename}: the catalog refused its row ({exc.orig}); the file is in the blob store but not "
            "published: report it with this message"
        )
        return Recorded(new, error=error)
    return Recorded(new, created=created)


def _conflict(new: NewFile, stored_sha256: str) -> FileConflict:
    return FileConflict(
        f"{new.filename!r} exists already with sha256 {stored_sha256} (this one has {new.sha256}); published "
        "files never change: release a new version or add a build number instead"
    )
