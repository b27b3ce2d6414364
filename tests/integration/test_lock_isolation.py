"""Server-side locks never stall page serving (issue 16): a real ``wasmfarm serve`` process under a page load of 64
connections (wrk), with and without a client that keeps asking for server-side locks of a 50-package closure among a
few hundred projects, alternated round by round in one run; page p99 with the locks must stay within 25 ms."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from farm.context import Farm
from farm.runtime.npm import NpmRegistry
from farm.settings import Settings
from tests.conftest import CACHE, PYODIDE_VERSION
from tests.support.npm_registry import NpmRegistryServer
from tests.support.page_load import PageLoad, need_wrk, run_wrk
from tests.support.server import served_process
from tests.support.wheels import make_wheel

# Not in `make test`: at 64 connections wrk saturates the one serving process of a 2-core machine, and its page p99
# then varies from 20 to 260 ms with no lock at all (2026-12-03), so the figure says nothing on a shared or small
# machine. `make test-load` runs it.
pytestmark = [pytest.mark.e2e, pytest.mark.load]

V = PYODIDE_VERSION
TREE = 50  # tree00 .. tree49: each depends on the next two, so tree00's closure is all of them
OTHERS = 250
CONNECTIONS = 64
ROUNDS = 2
SECONDS = 3
P99_LIMIT_MS = 25.0
RUNTIME_WHEELS = ("micropip-0.11.1-py3-none-any.whl", "packaging-26.1-py3-none-any.whl")


def tree_name(i: int) -> str:
    return f"tree{i:02d}"


def other_name(i: int) -> str:
    return f"other{i:03d}"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runtime and a catalog where a server-side lock costs real CPU: the tree in two versions of each project,
    beside ``OTHERS`` projects of their own."""
    base = tmp_path_factory.mktemp("isolation")
    settings = Settings(data_dir=base / "data")
    farm = Farm.open(settings)
    try:
        with NpmRegistryServer({V: CACHE / "npm" / f"pyodide-{V}.tgz"}) as npm:
            registry = NpmRegistry(npm.url)
            farm.runtimes.add(V, registry)
            registry.close()
        wheels = [CACHE / "wheels" / name for name in RUNTIME_WHEELS]
        for i in range(TREE):
            requires = [f"{tree_name(j)}>=1" for j in (2 * i + 1, 2 * i + 2) if j < TREE]
            wheels += [
                make_wheel(base / "wheels", tree_name(i), v, requires=requires) for v in ("1.0", "1.1")
            ]
        wheels += [make_wheel(base / "wheels", other_name(i), "1.0") for i in range(OTHERS)]
        for path in wheels:
            with farm.blobs.writer() as writer:
                writer.write(path.read_bytes())
                farm.ingestor.ingest(
                    writer, path.name, "mirrored" if path.parent == CACHE / "wheels" else "uploaded"
                )
        farm.publisher.refresh_stale()
    finally:
        farm.close()
    return settings.data_dir


@dataclass
class Locker:
    """A client that asks for server-side locks one after another until stopped, checking each answer."""

    url: str
    finished: list[float] = field(default_factory=list)  # monotonic time of each checked lock
    problems: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def lock_once(self, client: httpx.Client, i: int) -> None:
        other = other_name(i % OTHERS)
        response = client.post(self.url + f"r/{V}/lock", json={"requirements": [tree_name(0), other]})
        if response.status_code != 200:
            self.problems.append(f"{response.status_code}: {response.text[:300]}")
            return
        packages = set(response.json()["packages"])
        wanted = {tree_name(j) for j in range(TREE)} | {other, "micropip"}
        if not wanted <= packages:
            self.problems.append(f"lock without {sorted(wanted - packages)}")
            return
        if response.json()["packages"][tree_name(0)]["version"] != "1.1":
            self.problems.append("the lock did not choose the newest tree00")
            return
        self.finished.append(time.monotonic())

    def _run(self) -> None:
        with httpx.Client(timeout=60) as client:
            i = 0
            while not self._stop.is_set():
                self.lock_once(client, i)
                i += 1

    def __enter__(self) -> Locker:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(60)

    def between(self, start: float, end: float) -> int:
        return sum(1 for t in self.finished if start <= t <= end)


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    need_wrk()
    with served_process(data_dir) as (url, _process):
        yield url


def test_page_p99_stays_low_while_locks_are_computed(server: str, tmp_path: Path) -> None:
    locker = Locker(server)
    with httpx.Client(timeout=60) as client:
        locker.lock_once(client, 0)  # the first one also starts whatever computes locks
    assert not locker.problems, locker.problems
    paths = [f"/simple/{tree_name(i)}/" for i in range(TREE)] + [
        f"/simple/{other_name(i)}/" for i in range(OTHERS)
    ]
    assert httpx.get(server + paths[-1].lstrip("/")).status_code == 200
    run_wrk(server, paths, CONNECTIONS, 1, tmp_path)  # warm-up: connections, caches, the CPU's clocks
    quiet: list[PageLoad] = []
    busy: list[PageLoad] = []
    locks: list[int] = []
    for _ in range(ROUNDS):
        quiet.append(run_wrk(server, paths, CONNECTIONS, SECONDS, tmp_path))
        with locker:
            start = time.monotonic()
            busy.append(run_wrk(server, paths, CONNECTIONS, SECONDS, tmp_path))
            locks.append(locker.between(start, time.monotonic()))
    report = "\n".join(
        f"round {n + 1}: without locks {q}; with locks {b}, {k} locks during the load"
        for n, (q, b, k) in enumerate(zip(quiet, busy, locks, strict=True))
    )
    print(report)
    assert not locker.problems, locker.problems
    assert all(load.errors == 0 for load in quiet + busy), report
    # Lock workers run niced: under a saturating page load a lock takes longer, but locks keep being made.
    assert sum(locks) >= ROUNDS, f"too few locks were computed under the load to tell anything:\n{report}"
    ratio = statistics.median(b.rps for b in busy) / statistics.median(q.rps for q in quiet)
    p99, quiet_p99 = statistics.median(b.p99_ms for b in busy), statistics.median(q.p99_ms for q in quiet)
    print(
        f"median p99 {quiet_p99:.1f} ms without locks, {p99:.1f} ms with; throughput with / without {ratio:.2f}x"
    )
    assert quiet_p99 <= P99_LIMIT_MS, (
        f"page p99 is {quiet_p99:.1f} ms without any lock: this machine is too busy (load average "
        f"{os.getloadavg()[0]:.1f}) to tell what locks add:\n{report}"
    )
    assert p99 <= P99_LIMIT_MS, (
        f"page p99 {p99:.1f} ms while locks were computed (limit {P99_LIMIT_MS} ms):\n{report}"
    )
