"""The shared pages (every view's root listing and the runtimes' pyodide-lock.json), brought up to date in coalesced
renders.

A project's own pages are rendered as its change is made: they are what pip, uv and micropip read to install it. The
shared pages list everything, so a render of them costs what the catalog holds. An upload that waited for them would
cost O(catalog), and a burst of N uploads N times that. Instead a change marks them stale, and a background render
brings them up to date with every change made before it started. It starts once changes have stopped for ``quiet``
seconds, and at the latest ``max_delay`` seconds after the first change it has not yet rendered: an isolated upload is
on the shared pages about ``quiet`` plus one render later; a burst of any number of uploads costs about one render per
``max_delay`` seconds of burst, not one per upload.

A change that must be on the shared pages before its caller goes on (a deletion: no lock may go on linking to a file
about to be removed) asks for ``flush``, which renders at once in the caller's thread.

The mark is also a file, ``<www>/.shared-stale``, written before the change's project is recorded as rendered and
removed after a render that includes every change marked: a process that dies in between leaves it, and the next
start-up renders the shared pages (``Publisher.refresh_stale``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from farm.index.render_lock import RenderLock
from farm.store.blobs import atomic_write

log = logging.getLogger(__name__)

MARKER = ".shared-stale"
RETRY_AFTER_FAILURE = 5.0  # seconds before a failed background render is tried again


class SharedPages:
    """Coalesces renders of the shared pages. ``render(roots)`` renders them (the root listings too when ``roots``:
    a project entered or left a view), under ``render_lock``; it is called from one thread at a time."""

    def __init__(
        self,
        www: Path,
        render: Callable[[bool], None],
        render_lock: RenderLock,
        *,
        quiet: float = 0.3,
        max_delay: float = 5.0,
    ) -> None:
        self.marker = www / MARKER
        self._render = render
        self._render_lock = render_lock
        self.quiet = quiet
        self.max_delay = max_delay
        self.renders = 0  # shared renders run by this process (``wasmfarm_shared_page_renders_total``)
        self._state = threading.Condition()
        self._asked = 0  # changes marked
        self._done = 0  # changes included in a finished render
        self._roots = False  # some marked change not yet rendered entered or left a root listing
        self._first_pending: float | None = None  # when the oldest change not yet rendered was marked
        self._last_mark = 0.0  # when a change was last marked or announced (``touch``)
        self._retry_at = 0.0
        self._rendered_at = 0.0  # when the last render ended
        self._on_disk = self.marker.exists()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def stale_on_disk(self) -> bool:
        """A change was marked and no render has included it since, in this process or one that ended."""
        return self.marker.exists()

    def mark(self, roots: bool) -> int:
        """Note a change the shared pages do not show yet; returns its ticket for ``flush``. The background render
        picks it up."""
        with self._state:
            if not self._on_disk:
                atomic_write(self.marker, b"the shared pages do not show every change yet\n")
                self._on_disk = True
            self._asked += 1
            self._roots |= roots
            now = time.monotonic()
            self._last_mark = now
            if self._first_pending is None:
                self._first_pending = now
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="shared-pages", daemon=True)
                self._thread.start()
            self._state.notify_all()
            return self._asked

    def touch(self) -> None:
        """Note that a change is on its way (its project's pages are about to be rendered): the quiet time starts
        again, so a burst whose changes are rendered in batches, a second apart, still counts as one burst."""
        with self._state:
            self._last_mark = time.monotonic()

    def flush(self, ticket: int) -> None:
        """Return once a render that includes change ``ticket`` has finished, rendering in this thread if none has."""
        with self._state:
            if self._done >= ticket:
                return
        self._render_pending()

    def render_now(self) -> None:
        """Render the shared pages, root listings included, whatever is marked (at start-up, when an earlier
        process left the mark on disk)."""
        self._render_pending(force=True)

    def wait(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until every change marked so far is on the shared pages."""
        deadline = time.monotonic() + timeout
        with self._state:
            target = self._asked
            while self._done < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._state.wait(left)
            return True

    def close(self) -> None:
        """Stop the background render, rendering what is pending first (what is left stays marked on disk)."""
        with self._state:
            self._closed = True
            self._state.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=60)
        with self._state:
            pending = self._done < self._asked
        if pending:
            try:
                self._render_pending()
            except Exception:  # shutting down: the mark on disk makes the next start-up render
                log.exception(
                    "the shared pages were not rendered at shutdown; the next start-up renders them"
                )

    # ---------------------------------------------------------------------------------------------------------

    def _render_pending(self, force: bool = False) -> None:
        # The render lock first, then the state: whoever holds the render lock (this thread in a nested render, or
        # another) is the only one rendering, so nothing here waits for a render that waits for this thread.
        with self._render_lock.held():
            with self._state:
                upto = self._asked
                if self._done >= upto and not force:
                    return
                roots = self._roots or force
                self._roots = False
                self._first_pending = None
            try:
                self._render(roots)
            except BaseException:
                with self._state:
                    self._roots |= roots
                    if self._done < self._asked:
                        self._first_pending = time.monotonic()
                    self._retry_at = time.monotonic() + RETRY_AFTER_FAILURE
                raise
            with self._state:
                self.renders += 1
                self._rendered_at = time.monotonic()
                self._done = max(self._done, upto)
                if self._done >= self._asked and self._on_disk:
                    with contextlib.suppress(FileNotFoundError):
                        self.marker.unlink()
                    self._on_disk = False
                self._state.notify_all()

    def _due(self) -> float | None:
        """When the pending changes should be rendered (monotonic time), or None when nothing is pending."""
        if self._done >= self._asked or self._first_pending is None:
            return None
        if self._closed:
            return 0.0
        # Quiet since the last change and since the last render ended: a render holds the render lock, so no change
        # is marked while it runs, and that pause must not count as the end of a burst.
        quiet_since = max(self._last_mark, self._rendered_at)
        return max(self._retry_at, min(quiet_since + self.quiet, self._first_pending + self.max_delay))

    def _run(self) -> None:
        while True:
            with self._state:
                due = self._due()
                if due is None:
                    if self._closed:
                        self._thread = None
                        return
                    self._state.wait()
                    continue
                wait = due - time.monotonic()
                if wait > 0 and not self._closed:
                    self._state.wait(wait)
                    continue
            try:
                self._render_pending()
            except Exception:  # a background render must not die: retried, the mark stays on disk
                log.exception("rendering the shared pages failed; retried in %.0f s", RETRY_AFTER_FAILURE)
                with self._state:
                    if self._closed:  # the mark on disk makes the next start-up render
                        self._thread = None
                        return
