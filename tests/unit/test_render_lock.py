"""The render lock between processes: one holder at a time, and a waiter that gives up naming the holder."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from farm.errors import Busy
from farm.index.render_lock import RenderLock


def test_a_waiter_gives_up_after_its_timeout_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / ".render.lock"
    holder, waiter = RenderLock(path), RenderLock(path, timeout=0.3)  # two descriptors: as two processes
    with holder.held():
        started = time.monotonic()
        expected = rf"for over 0 s \(pid {os.getpid()} \(.*\) since .* UTC; lock file"
        with pytest.raises(Busy, match=expected), waiter.held():
            pass
        assert 0.3 <= time.monotonic() - started < 2
    with waiter.held():  # released: the waiter gets it, and the file names the new holder
        assert waiter.holder().startswith(f"pid {os.getpid()} ")


def test_a_waiter_gets_the_lock_soon_after_it_is_released(tmp_path: Path) -> None:
    path = tmp_path / ".render.lock"
    holder, waiter = RenderLock(path), RenderLock(path, timeout=10)
    order: list[str] = []
    with holder.held():

        def wait() -> None:
            with waiter.held():
                order.append("waiter")

        thread = threading.Thread(target=wait)
        thread.start()
        time.sleep(0.2)
        order.append("holder done")
    released = time.monotonic()
    thread.join(5)
    assert order == ["holder done", "waiter"]
    assert time.monotonic() - released < 1
