"""One render of the page tree at a time, across the threads of a process and across processes.

Two renders that overlap can finish in the wrong order: the one that read the catalog first writes last, and a page
or a lock goes back to a state without the newer change (two uploads at once did that). Every render of the page
tree (project pages, root pages, the runtimes' locks) holds this lock, so a render that starts after a change
includes it and nothing older is written after it. Within a process an ``RLock`` (re-entrant: a render runs the lock
refresh inside it); between processes (the server, workers, the CLI) ``flock`` on ``<www>/.render.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path


class RenderLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._thread:
            if self._depth == 0:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    os.close(self._fd)  # closing the descriptor releases the flock
                    self._fd = None
