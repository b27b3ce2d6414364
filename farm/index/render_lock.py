"""One render of the page tree at a time, across the threads of a process and across processes.

Two renders that overlap can finish in the wrong order: the one that read the catalog first writes last, and a page
or a lock goes back to a state without the newer change (two uploads at once did that). Every render of the page
tree (project pages, root pages, the runtimes' locks) holds this lock, so a render that starts after a change
includes it and nothing older is written after it. Within a process an ``RLock`` (re-entrant: a render runs the lock
refresh inside it); between processes (the server, workers, the CLI) ``flock`` on ``<www>/.render.lock``.

The holder writes who it is into the file (process id, command, since when); a process that waits longer than
``timeout`` seconds gives up with ``Busy`` naming it, rather than hanging behind a stuck render for ever.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from farm.errors import Busy

WAIT_STEPS = (
    0.001,
    0.05,
)  # seconds between attempts while another process holds it: doubling from 1 ms to 50 ms


class RenderLock:
    def __init__(self, path: Path, timeout: float = 600.0) -> None:
        self.path = path
        self.timeout = timeout
        self._thread = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self.holds = 0  # times this process has taken the lock (outermost): which hold is the current one

    @property
    def hold(self) -> int | None:
        """The number of the current hold while the lock is held in this process (by the caller, who must hold it
        to ask), else None."""
        return self.holds if self._depth else None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._thread:
            if self._depth == 0:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    self._acquire(fd)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
                self.holds += 1
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    os.close(self._fd)  # closing the descriptor releases the flock
                    self._fd = None

    def _acquire(self, fd: int) -> None:
        deadline = time.monotonic() + self.timeout
        step, longest = WAIT_STEPS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Busy(
                        f"the page tree is being rendered by another process for over {self.timeout:.0f} s "
                        f"({self.holder() or 'holder unknown'}; lock file {self.path}): nothing was changed, retry "
                        "later, or stop that process if it hangs"
                    ) from None
                time.sleep(step)
                step = min(step * 2, longest)
        me = f"pid {os.getpid()} ({' '.join(sys.argv[:2])[:200]}) since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
        os.ftruncate(fd, 0)
        os.pwrite(fd, me.encode(), 0)

    def holder(self) -> str:
        """Who holds the lock, as the holder wrote it."""
        try:
            return self.path.read_text(errors="replace").strip()
        except OSError:
            return ""
