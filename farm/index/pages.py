"""The rendered page tree: index pages written to disk once per change, laid out like their URLs.

``<www>/simple/<project>/index.{html,json}`` for the all-files view, ``<www>/r/<runtime>/simple/...`` for each
runtime's view, each with precompressed ``.gz`` and ``.br`` siblings. The server serves these bytes; a static server
(nginx) in front can serve the very same tree.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import logging
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import brotli
from packaging.version import InvalidVersion, Version

from farm.dist.filename import parse_dist_filename, validate_project_name
from farm.errors import FarmError, InvalidDistribution
from farm.index.render_lock import RenderLock
from farm.index.root_names import RootNames
from farm.index.shared_pages import SharedPages
from farm.index.simple_index import (
    IndexFile,
    ProjectListing,
    file_path,
    render_project_html,
    render_project_json,
    render_root_html,
    render_root_json,
)
from farm.runtime.target import RuntimeTarget
from farm.store.blobs import atomic_write, sync_filesystem
from farm.store.catalog import Catalog
from farm.store.models import DistFile, Project

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class View:
    """A simple index over a subset of files: all of them, or those one runtime installs."""

    prefix: str  # URL path of the index root, e.g. "simple/" or "r/314.0.7/simple/"
    target: RuntimeTarget | None

    def includes(self, row: DistFile) -> bool:
        return self.target is None or (row.kind == "wheel" and self.target.accepts(row.filename))

    @property
    def root(self) -> str:
        """Relative path from a project page of this view back to the server root."""
        return "../" * (self.prefix.count("/") + 1)


def views_for(targets: Sequence[RuntimeTarget]) -> list[View]:
    return [View("simple/", None)] + [View(f"r/{t.version}/simple/", t) for t in targets]


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def listing_for(name: str, rows: Iterable[DistFile]) -> ProjectListing:
    rows = sorted(rows, key=lambda r: (_version_key(r.version), r.filename))
    files = tuple(
        IndexFile(
            filename=r.filename,
            path=file_path(r.sha256, r.filename),
            sha256=r.sha256,
            size=r.size,
            upload_time=r.upload_time,
            requires_python=r.requires_python,
            yanked=r.yanked,
            yanked_reason=r.yanked_reason,
            metadata_sha256=r.metadata_sha256,
        )
        for r in rows
    )
    versions = tuple(dict.fromkeys(r.version for r in rows))
    return ProjectListing(name=name, files=files, versions=versions)


# Brotli's top quality costs what a write path cannot pay on big pages: on a 119 KB lock, quality 11 takes 179 ms for
# 21.7 KB where quality 5 takes 2 ms for 24.8 KB (14% more bytes). Small pages (most project pages) get the best.
BEST_COMPRESSION_BELOW = 32 * 1024
FAST_BROTLI_QUALITY = 5
# Below one TCP segment's payload a compressed copy saves no packet and no round trip, but two more files per page
# (most project pages are this small: with 10,000 projects, two thirds of the page tree's files were such variants,
# each taking a whole filesystem block). Such pages are kept plain only; the server sends them uncompressed.
PRECOMPRESS_FROM = 1400
# A render of many projects reads, writes and records them in chunks (bounded memory, bounded statements), and from
# this many projects a chunk's files are synced to disk together (one syncfs) rather than each with an fsync.
RENDER_CHUNK = 500
SYNC_TOGETHER_FROM = 8


def compressed(body: bytes) -> dict[str, bytes]:
    """A page's precompressed variants by suffix (none below ``PRECOMPRESS_FROM`` bytes)."""
    if len(body) < PRECOMPRESS_FROM:
        return {}
    small = len(body) < BEST_COMPRESSION_BELOW
    return {
        ".gz": gzip.compress(body, compresslevel=9 if small else 6, mtime=0),
        ".br": brotli.compress(body, quality=11 if small else FAST_BROTLI_QUALITY),
    }


def write_page(
    path: Path,
    body: bytes,
    *,
    durable: bool = True,
    variants: Callable[[], dict[str, bytes]] | None = None,
    fresh: bool = False,
) -> None:
    """Write a page and (from ``PRECOMPRESS_FROM`` bytes) its compressed variants, each atomically; unchanged pages
    are left alone. ``durable=False``: the caller syncs the filesystem once after many pages. ``variants``: gives what
    ``compressed(body)`` does, kept by the caller (a page written to several places is compressed once). ``fresh``:
    the page's directory was just made, so there is no older page or variant to compare or remove."""
    small = len(body) < PRECOMPRESS_FROM
    if not fresh:
        if small:
            _remove_variants(path)  # first, so no variant of an older, bigger page outlives it
        if path.is_file() and path.read_bytes() == body:
            return
    if not small:
        for suffix, data in (compressed(body) if variants is None else variants()).items():
            atomic_write(path.with_name(path.name + suffix), data, durable=durable)
    atomic_write(path, body, durable=durable)


def _remove_variants(path: Path) -> None:
    for suffix in (".br", ".gz"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


class PageTree:
    def __init__(self, www: Path, public_url: str, targets: Sequence[RuntimeTarget]) -> None:
        self.www = www
        self.public_url = public_url
        self.views = views_for(targets)
        self.render_lock = RenderLock(www / ".render.lock")
        self.root_names = RootNames(www, [view.prefix for view in self.views], self.render_lock)

    @property
    def _info_path(self) -> Path:
        return self.www / ".render-info.json"

    def render_info(self) -> dict[str, object]:
        return {"public_url": self.public_url, "views": [v.prefix for v in self.views], "format": 1}

    def is_current(self) -> bool:
        try:
            return bool(json.loads(self._info_path.read_text()) == self.render_info())
        except (OSError, ValueError):
            return False

    def mark_current(self) -> None:
        atomic_write(self._info_path, json.dumps(self.render_info()).encode())

    def render_project(self, name: str, rows: Sequence[DistFile], *, durable: bool = True) -> bool:
        """Render a project's pages in every view; True when its presence in some view's root list changed.
        ``durable=False``: the caller syncs the filesystem (``sync_filesystem``) before relying on them."""
        presence_changed = False
        for view in self.views:
            page_dir = self.www / view.prefix / name
            selected = [r for r in rows if view.includes(r)]
            # A page's directory that is not there holds no page to compare with and no variant to remove (most of
            # a first render: a stat and two unlinks fewer per page).
            fresh = not page_dir.is_dir()
            existed = not fresh and (page_dir / "index.html").is_file()
            if not selected:
                if existed:
                    self.root_names.changing()
                    shutil.rmtree(page_dir, ignore_errors=True)
                    self._note_presence(view, name)
                    presence_changed = True
                continue
            listing = listing_for(name, selected)
            if fresh:
                page_dir.mkdir(parents=True, exist_ok=True)
            write_page(
                page_dir / "index.json",
                render_project_json(listing, self.public_url),
                durable=durable,
                fresh=fresh,
            )
            if not existed:
                self.root_names.changing()
            write_page(
                page_dir / "index.html", render_project_html(listing, view.root), durable=durable, fresh=fresh
            )
            if not existed:
                self.root_names.present(view.prefix, name, True)  # just written: no need to look
                presence_changed = True
        return presence_changed

    def remove_project(self, name: str) -> bool:
        """Remove a project's pages from every view (safe for any name: only a direct child is touched)."""
        removed = False
        for view in self.views:
            base = self.www / view.prefix
            page_dir = base / name
            if (
                "/" not in name
                and "\0" not in name
                and name not in ("", ".", "..")
                and page_dir.parent == base
            ):
                with contextlib.suppress(OSError, ValueError):
                    if page_dir.is_dir():
                        self.root_names.changing()
                        shutil.rmtree(page_dir)
                        removed = True
                    self._note_presence(view, name)
        return removed

    def _note_presence(self, view: View, name: str) -> None:
        """What a change left on disk (a removal that failed half-way may have left the page)."""
        self.root_names.present(view.prefix, name, (self.www / view.prefix / name / "index.html").is_file())

    def know_roots(self) -> None:
        """Find which projects each view lists now (a scan of the tree, the first time in this process), so the
        first change does not wait for it."""
        with self.render_lock.held():
            for view in self.views:
                self.root_names.names(view.prefix)

    def render_roots(self) -> None:
        """The root listings of every view, from the names the renders keep (``RootNames``): no scan of the tree
        after the first. Views that list the same projects share one rendering and its compression."""
        names: list[str] | None = None
        pages: list[tuple[str, bytes, Callable[[], dict[str, bytes]]]] = []
        for view in self.views:
            base = self.www / view.prefix
            base.mkdir(parents=True, exist_ok=True)
            if names is None or names != self.root_names.names(view.prefix):
                names = self.root_names.names(view.prefix)
                bodies = (("index.json", render_root_json(names)), ("index.html", render_root_html(names)))
                # Compressed when first written: a listing that has not changed is neither written nor compressed.
                pages = [
                    (file, body, functools.cache(functools.partial(compressed, body)))
                    for file, body in bodies
                ]
            for file, body, variants in pages:
                write_page(base / file, body, variants=variants)


class Publisher:
    """Keeps the page tree in step with the catalog: render on change, never per request.

    A project's pages are rendered as it changes; the shared pages (root listings, the runtimes' locks) in coalesced
    renders (``SharedPages``). Renders are serialised (``RenderLock``) and coalesced: ``refresh`` of a project waits
    for a render that started after it was asked for, and one render serves every project asked for while the
    previous one ran."""

    def __init__(
        self, catalog: Catalog, pages: PageTree, *, shared_quiet: float = 0.3, shared_max_delay: float = 5.0
    ) -> None:
        self.catalog = catalog
        self.pages = pages
        self.on_change: list[Callable[[], None]] = []  # e.g. regenerating the runtimes' lockfiles
        self.renders = 0  # renders of project pages run by this process (``wasmfarm_page_renders_total``)
        self.shared = SharedPages(
            pages.www, self._render_shared, pages.render_lock, quiet=shared_quiet, max_delay=shared_max_delay
        )
        self._state = threading.Condition()
        self._pending: set[str] = set()
        self._asked = 0  # refreshes asked for
        self._served = 0  # refreshes whose render has finished
        self._shared_ticket = 0  # the shared pages' ticket of the last finished render
        self._rendering = False

    def refresh(self, names: Iterable[str], *, wait_shared: bool = True) -> None:
        """Render the pages of projects ``names``; return once they are on their pages, and (``wait_shared``) on
        the root listings and the runtimes' locks. Without ``wait_shared`` those follow within a bounded delay
        (``SharedPages``)."""
        self.shared.touch()  # more is coming: the shared pages wait for the burst to end
        with self._state:
            self._pending.update(names)
            self._asked += 1
            ticket = self._asked
        while True:
            with self._state:
                while self._rendering and self._served < ticket:
                    self._state.wait()
                if self._served >= ticket:
                    shared = self._shared_ticket
                    break
                self._rendering = True
                batch, self._pending = self._pending, set()
                upto = self._asked
            try:
                with self.pages.render_lock.held():
                    shared_ticket = self._render(self.catalog.projects_named(sorted(batch)))
            except BaseException:
                with self._state:
                    self._pending |= batch  # not rendered: whoever waits renders it again
                    self._rendering = False
                    self._state.notify_all()
                raise
            with self._state:
                self._served = max(self._served, upto)
                self._shared_ticket = max(self._shared_ticket, shared_ticket or 0)
                self._rendering = False
                self._state.notify_all()
        if wait_shared and shared:
            self.shared.flush(shared)

    def know_roots_soon(self) -> threading.Thread:
        """``PageTree.know_roots`` in the background: a server's first upload would otherwise wait for the scan
        (about 1 s with 100,000 projects); one that comes meanwhile waits for the render lock, as it would have."""

        def know() -> None:
            try:
                self.pages.know_roots()
            except OSError as exc:  # the first shared render scans again, and says what is wrong
                log.warning("the root listings' names were not read ahead: %s", exc)

        thread = threading.Thread(target=know, name="root-names", daemon=True)
        thread.start()
        return thread

    def refresh_stale(self) -> int:
        """Render what changed since the last render (all of it when the URL or the runtimes changed), and the
        shared pages when a change has not reached them (an earlier process ended first); when nothing changed, one
        query and no write."""
        with self.pages.render_lock.held():
            current = self.pages.is_current()
            if not current:
                self.catalog.mark_all_stale()
            leftover = self.shared.stale_on_disk or not (self.pages.www / "simple" / "index.html").is_file()
            stale = self.catalog.stale_projects()
            ticket = self._render(stale, force_roots=not current) if stale or not current else None
            if leftover:
                self.shared.render_now()
            elif ticket:
                self.shared.flush(ticket)
            if not current:
                self.pages.mark_current()
            return len(stale)

    def close(self) -> None:
        """Render what the shared pages still miss and stop their background render."""
        self.shared.close()

    def _render(self, projects: Sequence[Project], force_roots: bool = False) -> int | None:
        """Render the projects' pages and mark the shared pages stale; the ticket of that mark, if any."""
        self.renders += 1
        typed = list(projects)
        # Marked (on disk too) before any project counts as rendered: a crash after that renders the shared pages.
        ticket = self.shared.mark(force_roots) if typed or force_roots else None
        roots_changed = False
        for start in range(0, len(typed), RENDER_CHUNK):
            roots_changed |= self._render_chunk(typed[start : start + RENDER_CHUNK])
        if roots_changed:
            ticket = self.shared.mark(True)
        if typed:
            log.info("rendered index pages of %d project(s)", len(typed))
        return ticket

    def _render_chunk(self, projects: Sequence[Project]) -> bool:
        """Render some projects' pages and record them as rendered; True when a root listing must change. Many at
        once are written without an fsync each and synced together before they are recorded. One thread: written on
        four threads, a render of 10,000 projects took 1.2-1.6 times as long on 2 cores (not explained; the threads
        all make entries in the same views' directories)."""
        files = self.catalog.files_of([p.name for p in projects])
        durable = len(projects) < SYNC_TOGETHER_FROM
        roots_changed = False
        done: list[tuple[int, int]] = []
        for project in projects:
            assert project.id is not None
            rows = files[project.name]
            try:
                check_publishable(project.name, rows)
            except FarmError as exc:
                # A row no page can be made from must not stop start-up or hide the rest: it is set aside.
                self.catalog.quarantine(project.id, str(exc))
                roots_changed |= self.pages.remove_project(project.name)
                log.error("project %r quarantined, left out of every page and lock: %s", project.name, exc)
                continue
            try:
                roots_changed |= self.pages.render_project(project.name, rows, durable=durable)
            except (
                OSError
            ) as exc:  # a full disk, too many open files: left stale, tried again at the next render
                log.error(
                    "pages of project %r not rendered (%s); the next render tries again", project.name, exc
                )
                continue
            done.append((project.id, project.serial))
        if done and not durable:
            sync_filesystem(self.pages.www)
        self.catalog.mark_rendered(done)
        return roots_changed

    def _render_shared(self, roots: bool) -> None:
        # The hooks first: Pyodide's loadPackage reads a runtime's lock, while pip, uv and micropip read a project's
        # own page (written before the upload answered) and not the root listings. With ``runtime_lock = own`` a lock
        # takes milliseconds at any size; the root listings grow with the catalog (0.25 s at 100,000 projects).
        for hook in self.on_change:
            try:
                hook()
            except (FarmError, OSError, ValueError):
                log.exception("a page-change hook failed; the root listings are rendered all the same")
        if roots or not (self.pages.www / "simple" / "index.html").is_file():
            self.pages.render_roots()


def check_publishable(name: str, rows: Sequence[DistFile]) -> None:
    """Whatever the catalog holds (rows from older versions, another tool, a restored backup), a page is only made
    of a valid project name and files whose names parse and belong to it."""
    if validate_project_name(name, "catalog") != name:
        raise InvalidDistribution(f"catalog: project name {name!r} is not normalised")
    for row in rows:
        if parse_dist_filename(row.filename).name != name:
            raise InvalidDistribution(f"catalog: file {row.filename!r} does not belong to project {name!r}")
