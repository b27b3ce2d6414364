"""Yank, un-yank and delete, from the command line or HTTP: check who may (``policy``), change the catalog, refresh
the project's pages (and through them the runtimes' locks), remove deleted blobs nothing else refers to, and record
each changed file in the audit trail.

A delete goes catalog row first, then pages and locks, then the blob: a crash in between leaves at most a blob
nothing refers to, which ``wasmfarm fsck`` lists as an orphan (waste, not damage). A blob that another file, a build
or a recipe's source still uses is kept.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.version import Version

from farm.audit.trail import Action, Actor, AuditTrail
from farm.context import Farm
from farm.dist.filename import parse_dist_filename, validate_project_name
from farm.errors import BadRequest, NotFound
from farm.fsck.check import referenced_blobs
from farm.index.pages import Publisher
from farm.store.blobs import BlobStore
from farm.store.catalog import Catalog
from farm.store.models import DistFile

from .policy import Verb, check_allowed, clean_reason

log = logging.getLogger(__name__)
ACTIONS = {Verb.YANK: Action.YANK, Verb.UNYANK: Action.UNYANK, Verb.DELETE: Action.DELETE}


@dataclass(frozen=True)
class FileState:
    filename: str
    origin: str
    yanked: bool
    yanked_reason: str | None
    deleted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "origin": self.origin,
            "yanked": self.yanked,
            "yanked_reason": self.yanked_reason,
            "deleted": self.deleted,
        }


@dataclass(frozen=True)
class Outcome:
    verb: Verb
    target: str
    files: tuple[FileState, ...]
    changed: tuple[str, ...]  # the files whose state this action changed (the rest were that way already)
    blobs_removed: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.verb.value,
            "target": self.target,
            "changed": list(self.changed),
            "files": [f.as_dict() for f in self.files],
        }


class Curator:
    def __init__(
        self,
        catalog: Catalog,
        blobs: BlobStore,
        publisher: Publisher,
        trail: AuditTrail,
        referenced: Callable[[], Mapping[str, str]],
    ) -> None:
        self.catalog = catalog
        self.blobs = blobs
        self.publisher = publisher
        self.trail = trail
        self.referenced = (
            referenced  # sha256 -> what besides the catalog uses that blob (builds, recipe sources)
        )

    # Finding the target ---------------------------------------------------------------------------------------

    def file(self, filename: str) -> tuple[str, list[DistFile]]:
        dist = parse_dist_filename(filename)  # a name no distribution has is a 400, not a lookup
        row = self.catalog.file(dist.filename)
        if row is None:
            raise NotFound(f"file {filename!r} is not on this index; its project page lists the files it has")
        return dist.filename, [row]

    def release(self, project: str, version: str) -> tuple[str, list[DistFile]]:
        name = validate_project_name(project, "project")
        try:
            parsed = Version(version)
        except ValueError:  # InvalidVersion, or a number beyond int()'s 4,300 digits
            raise BadRequest(
                f"version {version[:80]!r} is not a PEP 440 version (like 1.0 or 2.1.0rc1)"
            ) from None
        rows = self.catalog.release_files(name, parsed)
        if not rows:
            raise NotFound(f"project {name!r} has no files of version {parsed} on this index")
        return f"{name} {parsed}", rows

    # Acting ---------------------------------------------------------------------------------------------------

    def yank(
        self,
        target: str,
        rows: Sequence[DistFile],
        actor: Actor,
        reason: object = None,
        *,
        undo: bool = False,
    ) -> Outcome:
        verb = Verb.UNYANK if undo else Verb.YANK
        text = clean_reason(reason)
        projects = self._check(verb, rows, actor)
        changed = self.catalog.set_yanked_many([r.filename for r in rows], not undo, text, local=True)
        for row in changed:
            self._record(verb, row, actor, text)
        if changed:
            self.publisher.refresh(projects)
        now = {r.filename: r for r in changed}
        states = tuple(_state(now.get(r.filename, r)) for r in rows)
        return Outcome(verb, target, states, tuple(r.filename for r in changed))

    def delete(self, target: str, rows: Sequence[DistFile], actor: Actor, reason: object = None) -> Outcome:
        text = clean_reason(reason)
        projects = self._check(Verb.DELETE, rows, actor)
        deleted = self.catalog.delete_files([r.filename for r in rows])
        for row in deleted:
            self._record(Verb.DELETE, row, actor, text)
        self.publisher.refresh(projects)  # pages and locks first: nothing may link to a blob about to go
        removed = self._remove_blobs(deleted)
        states = tuple(
            FileState(r.filename, r.origin, r.yanked, r.yanked_reason, deleted=True) for r in deleted
        )
        return Outcome(Verb.DELETE, target, states, tuple(r.filename for r in deleted), removed)

    def _check(self, verb: Verb, rows: Sequence[DistFile], actor: Actor) -> list[str]:
        """All or nothing: every file must be allowed before any changes. The projects touched."""
        projects: list[str] = []
        for row in rows:
            project = parse_dist_filename(row.filename).name
            check_allowed(
                verb,
                row.filename,
                row.origin,
                project,
                admin=actor.admin,
                projects=actor.projects,
                who=actor.name,
            )
            if project not in projects:
                projects.append(project)
        return projects

    def _record(self, verb: Verb, row: DistFile, actor: Actor, reason: str | None) -> None:
        self.trail.record(
            ACTIONS[verb], row.filename, actor, reason=reason, sha256=row.sha256, origin=row.origin
        )

    def _remove_blobs(self, deleted: Sequence[DistFile]) -> tuple[str, ...]:
        others = self.referenced()
        removed = []
        for row in deleted:
            if self.catalog.sha256_listed(row.sha256) or row.sha256 in others:
                log.info(
                    "%s deleted; its blob stays (%s)", row.filename, others.get(row.sha256, "another file")
                )
                continue
            for path in (self.blobs.metadata_path_for(row.sha256), self.blobs.path_for(row.sha256)):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            removed.append(row.sha256)
        return tuple(removed)


def _state(row: DistFile) -> FileState:
    return FileState(row.filename, row.origin, row.yanked, row.yanked_reason)


def curator_for(farm: Farm) -> Curator:
    """The curator of a wired-up farm (for the edges: the CLI and the app factory)."""
    recipe_dirs = list(farm.settings.recipe_dirs)
    runtime_dir = farm.settings.runtime_dir
    return Curator(
        farm.catalog,
        farm.blobs,
        farm.publisher,
        AuditTrail(farm.engine),
        lambda: referenced_blobs(farm.catalog, recipe_dirs, runtime_dir),
    )
