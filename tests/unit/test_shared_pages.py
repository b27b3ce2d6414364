"""The shared pages' coalesced renders: many changes, few renders, none lost, and a mark that survives a crash."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from farm.index.render_lock import RenderLock
from farm.index.shared_pages import MARKER, SharedPages


class Recorder:
    """A render that records what it was asked, and can be told to fail or to take time."""

    def __init__(self) -> None:
        self.calls: list[bool] = []
        self.fail = False
        self.seconds = 0.0

    def __call__(self, roots: bool) -> None:
        if self.fail:
            raise OSError("disk full")
        time.sleep(self.seconds)
        self.calls.append(roots)


def shared_pages(
    tmp_path: Path, render: Recorder, quiet: float = 0.05, max_delay: float = 0.5
) -> SharedPages:
    return SharedPages(
        tmp_path, render, RenderLock(tmp_path / ".render.lock"), quiet=quiet, max_delay=max_delay
    )


def test_a_burst_of_changes_costs_one_render_and_each_change_is_included(tmp_path: Path) -> None:
    render = Recorder()
    pages = shared_pages(tmp_path, render, quiet=0.3, max_delay=10)
    for i in range(500):
        pages.mark(roots=i == 7)
    assert (tmp_path / MARKER).exists()  # marked on disk before anything is rendered
    assert pages.wait(timeout=5)
    assert render.calls == [True]  # one render, and it included the change that entered a root listing
    assert not (tmp_path / MARKER).exists()
    pages.close()


def test_an_isolated_change_is_rendered_after_the_quiet_time(tmp_path: Path) -> None:
    render = Recorder()
    pages = shared_pages(tmp_path, render, quiet=0.05, max_delay=10)
    started = time.monotonic()
    pages.mark(roots=False)
    assert pages.wait(timeout=5)
    assert 0.04 <= time.monotonic() - started < 2
    assert render.calls == [False]
    pages.close()


def test_a_burst_longer_than_the_max_delay_renders_once_per_max_delay(tmp_path: Path) -> None:
    """Changes that never stop for the quiet time are still rendered, once per max_delay, not once per change."""
    render = Recorder()
    pages = shared_pages(tmp_path, render, quiet=0.2, max_delay=0.3)
    deadline = time.monotonic() + 1.5
    marks = 0
    while time.monotonic() < deadline:
        pages.mark(roots=False)
        marks += 1
        time.sleep(0.01)
    assert pages.wait(timeout=5)
    assert marks > 50
    assert 3 <= len(render.calls) <= 7, render.calls  # 1.5 s / 0.3 s, plus the last changes' render
    pages.close()


def test_flush_renders_in_the_callers_thread_even_while_holding_the_render_lock(tmp_path: Path) -> None:
    """A deletion renders the shared pages at once; a caller already inside a render (holding the lock) must not
    wait for the background thread, which waits for that lock."""
    render = Recorder()
    lock = RenderLock(tmp_path / ".render.lock")
    pages = SharedPages(tmp_path, render, lock, quiet=0.0, max_delay=0.0)
    done = threading.Event()

    def inside_a_render() -> None:
        with lock.held():
            ticket = pages.mark(roots=True)
            time.sleep(0.1)  # the background thread is now waiting for the lock
            pages.flush(ticket)
        done.set()

    thread = threading.Thread(target=inside_a_render)
    thread.start()
    assert done.wait(timeout=10), "flush deadlocked"
    thread.join()
    assert pages.wait(timeout=5)
    assert render.calls[0] is True and len(render.calls) <= 2
    pages.close()


def test_a_failed_render_keeps_the_mark_and_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("farm.index.shared_pages.RETRY_AFTER_FAILURE", 0.1)
    render = Recorder()
    render.fail = True
    pages = shared_pages(tmp_path, render, quiet=0.0, max_delay=0.0)
    pages.mark(roots=True)
    assert not pages.wait(timeout=0.5)
    assert (tmp_path / MARKER).exists()
    render.fail = False
    assert pages.wait(timeout=5)
    assert render.calls == [True]  # the root listings the failed render missed are still rendered
    assert not (tmp_path / MARKER).exists()
    pages.close()


def test_a_process_that_ends_before_rendering_leaves_the_mark_for_the_next(tmp_path: Path) -> None:
    render = Recorder()
    render.fail = True  # the process "dies": nothing gets rendered
    first = shared_pages(tmp_path, render, quiet=10, max_delay=10)
    first.mark(roots=False)
    later = shared_pages(tmp_path, Recorder())
    assert later.stale_on_disk
    later.render_now()
    assert not later.stale_on_disk


def test_close_renders_what_is_pending(tmp_path: Path) -> None:
    render = Recorder()
    pages = shared_pages(tmp_path, render, quiet=30, max_delay=60)
    pages.mark(roots=True)
    pages.close()
    assert render.calls == [True]
    assert not (tmp_path / MARKER).exists()
