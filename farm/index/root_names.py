"""Which projects each view's root listing shows, kept in memory between shared renders.

The page tree is the truth: a view lists the projects whose ``<view>/<name>/index.html`` exists. Finding them by
scanning the tree costs a stat per project per view (0.7-0.9 s with 10,000 projects and two views, ten times that
with 100,000), and a shared render would pay it after every upload. So each process scans once and then follows its
own renders, which know when a project appears in or leaves a view.

Other processes render into the same tree (the CLI, build workers). Every change of presence, by any process, first
writes a new token to ``<www>/.roots-generation``, under the render lock like the change itself; a process whose
last token is no longer the file's scans the tree again before it uses or changes its names. A process that dies
between the token and the change leaves a token nobody holds, so the others scan: never a listing that misses a
change. While one hold of the render lock lasts no other process can change the tree, so the token is read and
written at most once per hold (a full render of 10,000 new projects would otherwise write it 20,000 times).
"""

from __future__ import annotations

import bisect
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from farm.index.render_lock import RenderLock
from farm.store.blobs import atomic_write

GENERATION = ".roots-generation"


class RootNames:
    """The names of each view's root listing (views by prefix, such as ``simple/``). Callers hold ``lock`` (else
    every call reads the token, and every change writes it)."""

    def __init__(self, www: Path, prefixes: Sequence[str], lock: RenderLock) -> None:
        self.www = www
        self.prefixes = list(prefixes)
        self.lock = lock
        self._names: dict[str, set[str]] | None = None  # None: not known in this process, scan first
        # Each view's names in order, made on demand and kept in step by ``present`` (a sort of 100,000 names
        # costs 15 ms; an insertion into the kept order, microseconds).
        self._ordered: dict[str, list[str]] = {}
        self._token: str | None = None  # the generation these names are of
        self._checked: int | None = (
            None  # the hold of the render lock in which the token was last read or written
        )
        self._announced: int | None = None  # the hold in which this process last wrote a token
        self.scans = 0  # tree scans run by this process (for tests)

    def names(self, prefix: str) -> list[str]:
        """The projects ``prefix``'s root listing shows, sorted (the kept list: do not change it)."""
        names = self._current()[prefix]
        ordered = self._ordered.get(prefix)
        if ordered is None:
            ordered = self._ordered[prefix] = sorted(names)
        return ordered

    def changing(self) -> None:
        """Call before a project's presence in a view changes (then ``present`` once it has): other processes will
        scan again."""
        self._current()
        hold = self.lock.hold
        if hold is not None and self._announced == hold:
            return
        self._token = uuid.uuid4().hex
        atomic_write(self.www / GENERATION, self._token.encode(), durable=False)
        self._announced = self._checked = hold

    def present(self, prefix: str, name: str, listed: bool) -> None:
        """Record what a change left: ``name`` listed in ``prefix``'s root or not."""
        names = self._current()[prefix]
        ordered = self._ordered.get(prefix)
        if listed and name not in names:
            names.add(name)
            if ordered is not None:
                bisect.insort(ordered, name)
        elif not listed and name in names:
            names.discard(name)
            if ordered is not None:
                del ordered[bisect.bisect_left(ordered, name)]

    def forget(self) -> None:
        """Pages were changed behind the renders' back (``fsck --repair``): scan again next time."""
        self._names = None
        self._ordered = {}
        self._announced = None

    def _current(self) -> dict[str, set[str]]:
        hold = self.lock.hold
        if self._names is not None and hold is not None and self._checked == hold:
            return self._names
        token = self._read_token()
        if self._names is None or token != self._token:
            self._names = {prefix: self._scan(self.www / prefix) for prefix in self.prefixes}
            self._ordered = {}
            self._token = token
            self.scans += 1
        self._checked = hold
        return self._names

    def _read_token(self) -> str:
        try:
            return (self.www / GENERATION).read_text()
        except FileNotFoundError:
            return ""

    @staticmethod
    def _scan(base: Path) -> set[str]:
        try:
            entries = os.scandir(base)
        except FileNotFoundError:
            return set()
        with entries:  # os.path on strings: pathlib objects made this scan three times slower
            return {
                entry.name
                for entry in entries
                if entry.is_dir(follow_symlinks=False)
                and os.path.isfile(os.path.join(entry.path, "index.html"))  # noqa: PTH113, PTH118
            }
