"""Checks, builds and mirroring requested from the ``/compat`` pages, run in the background of the serving process
while the page polls for the result. (Batch scans are jobs: ``farm.compat.scan_jobs``.)

- **Never on the event loop**: each task runs on a thread of its own pool. Checks (each may boot Pyodide under Node)
  run on ``workers`` threads; a build or a mirroring is coordinated by a thread of a second pool, since it mostly
  waits (for the build farm, for upstream).
- **Joining**: a second request for the same thing while the first is queued or running (the same kind, project
  and runtime) gets the first's task, so nothing is checked or built twice at once. The build itself is joined by
  the build farm too (``farm.compat.requests``: the same build key).
- **Fresh inputs**: every task opens its own session (``Sessions``): a new upstream index client, so a long-lived
  server never answers from a project page it read an hour ago.
- **State** is this process's memory (the verdicts themselves are kept in the database as they are decided): a
  restarted server forgets these short tasks, not their results. Finished tasks are kept for ``keep_seconds``.

A build request waits for the build to finish (``BuildStates``; the page follows it live at ``/builds/<id>``),
then checks again, so the kept verdict turns into *works* (or says why not) without anyone asking.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from packaging.requirements import Requirement

from farm.build.state import BuildStates
from farm.compat.mirroring import mirror_available, wants_mirroring
from farm.compat.oracle import Oracle
from farm.compat.requests import BuildRequests, BuildTicket
from farm.compat.verdict import Verdict
from farm.errors import FarmError
from farm.mirror.mirror import Mirror, Progress
from farm.runtime.target import RuntimeTarget
from farm.store.models import BuildState

log = logging.getLogger(__name__)


@dataclass
class CompatSession:
    """What one task works with, opened fresh for it and closed after."""

    oracle: Oracle
    requests: BuildRequests | None  # None without an upstream index
    mirror_for: Callable[[Sequence[RuntimeTarget]], Mirror] | None


Sessions = Callable[[], contextlib.AbstractContextManager[CompatSession]]


class TaskState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass
class Task:
    id: str
    kind: str  # check | build | mirror
    project: str | None
    runtimes: tuple[str, ...]
    total: int  # verdicts to come (one)
    state: TaskState = TaskState.QUEUED
    phase: str = "queued"  # in words: "checking", "building", "mirroring", "checking again"
    done: int = 0
    verdicts: list[Verdict] = field(default_factory=list)  # single-project tasks
    counts: dict[str, int] = field(default_factory=dict)  # status -> verdicts
    ticket: BuildTicket | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None

    @property
    def active(self) -> bool:
        return self.state in (TaskState.QUEUED, TaskState.RUNNING)

    @property
    def url(self) -> str:
        return f"/compat/-/tasks/{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "kind": self.kind,
            "project": self.project,
            "runtimes": list(self.runtimes),
            "state": self.state.value,
            "phase": self.phase,
            "progress": {"done": self.done, "total": self.total},
            "verdicts": [v.to_json() for v in self.verdicts],
            "counts": dict(self.counts),
            "build": self.ticket.to_json() if self.ticket else None,
            "notes": list(self.notes),
            "error": self.error,
        }


class _MirrorNotes(Progress):
    def __init__(self, runner: TaskRunner, task: Task) -> None:
        self.runner = runner
        self.task = task

    def message(self, text: str) -> None:
        with self.runner.lock:
            self.task.notes.append(text)


class TaskRunner:
    def __init__(
        self,
        sessions: Sessions,
        builds: BuildStates,
        *,
        workers: int = 2,
        mirror_concurrency: int = 4,
        resend: Callable[[int], None] | None = None,
        build_wait: float = 7200.0,
        poll: float = 1.0,
        keep_seconds: float = 3600.0,
    ) -> None:
        self.sessions = sessions
        self.builds = builds
        self.workers = workers
        self.mirror_concurrency = mirror_concurrency
        self.resend = (
            resend  # in-process builds: a joined build queued by a process that is gone is sent again
        )
        self.build_wait = build_wait
        self.poll = poll
        self.keep_seconds = keep_seconds
        self.lock = threading.Lock()
        self.stopping = threading.Event()  # set by close(): waits end, so the server can exit
        self.tasks: dict[str, Task] = {}
        self.active: dict[tuple[str, ...], Task] = {}
        self.checks = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="compat-check")
        self.coordinators = ThreadPoolExecutor(max_workers=4, thread_name_prefix="compat-task")

    # Asking ---------------------------------------------------------------------------------------------------

    def check(self, project: str, runtime: str) -> tuple[Task, bool]:
        """Check ``project`` on ``runtime``; (the task, whether it joined one already running)."""
        return self._submit(
            ("check", project, runtime), "check", project, (runtime,), 1, self._check, self.checks
        )

    def build(self, project: str, runtime: str) -> tuple[Task, bool]:
        """Build what a buildable verdict of ``project`` calls for, wait for it, check again."""
        return self._submit(("build", project, runtime), "build", project, (runtime,), 1, self._build)

    def mirror(self, project: str, runtime: str) -> tuple[Task, bool]:
        """Admin: mirror what upstream has for ``project`` (with its closure), check again."""
        return self._submit(("mirror", project, runtime), "mirror", project, (runtime,), 1, self._mirror)

    def get(self, task_id: str) -> dict[str, Any] | None:
        with self.lock:
            task = self.tasks.get(task_id)
            return task.to_json() if task is not None else None

    def close(self) -> None:
        """Stop taking tasks and end the waits; a check that is running finishes (within check_seconds)."""
        self.stopping.set()
        self.coordinators.shutdown(wait=False, cancel_futures=True)
        self.checks.shutdown(wait=False, cancel_futures=True)

    def _submit(
        self,
        key: tuple[str, ...],
        kind: str,
        project: str | None,
        runtimes: tuple[str, ...],
        total: int,
        work: Callable[[Task], None],
        pool: ThreadPoolExecutor | None = None,
    ) -> tuple[Task, bool]:
        with self.lock:
            running = self.active.get(key)
            if running is not None and running.active:
                return running, True
            task = Task(secrets.token_hex(8), kind, project, runtimes, total)
            self.tasks[task.id] = task
            self.active[key] = task
            self._forget_old()
        (pool or self.coordinators).submit(self._run, key, task, work)
        return task, False

    def _forget_old(self) -> None:
        horizon = time.time() - self.keep_seconds
        for task_id in [t.id for t in self.tasks.values() if t.finished is not None and t.finished < horizon]:
            del self.tasks[task_id]

    def _run(self, key: tuple[str, ...], task: Task, work: Callable[[Task], None]) -> None:
        self._set(task, state=TaskState.RUNNING)
        try:
            work(task)
        except FarmError as exc:
            self._set(task, error=str(exc))
        except Exception as exc:
            log.exception("compat %s task %s failed", task.kind, task.id)
            self._set(task, error=f"internal error ({type(exc).__name__}); the server log has it")
        with self.lock:
            task.state = TaskState.FAILED if task.error else TaskState.DONE
            task.phase = "failed" if task.error else "done"
            task.finished = time.time()
            if self.active.get(key) is task:
                del self.active[key]

    def _set(self, task: Task, **values: Any) -> None:
        with self.lock:
            for name, value in values.items():
                setattr(task, name, value)

    # Working --------------------------------------------------------------------------------------------------

    def _verdict(self, task: Task, phase: str) -> Verdict:
        assert task.project is not None
        self._set(task, phase=phase)
        with self.sessions() as session:
            [verdict] = session.oracle.check([Requirement(task.project)], task.runtimes[:1])
        return verdict

    def _finish(self, task: Task, verdict: Verdict) -> None:
        self._set(task, verdicts=[verdict], done=1, counts={verdict.status.value: 1})

    def _check(self, task: Task) -> None:
        self._finish(task, self._verdict(task, "checking"))

    def _build(self, task: Task) -> None:
        assert task.project is not None
        self._set(task, phase="checking")
        with self.sessions() as session:
            [verdict] = session.oracle.check([Requirement(task.project)], task.runtimes[:1])
            if session.requests is None:
                raise FarmError(f"{task.project}: this server has no upstream index to build from")
            self._set(task, phase="requesting a build")
            ticket = session.requests.request(verdict)
        self._set(task, ticket=ticket)
        if ticket.build_id is not None:
            if ticket.status == "joined" and self.resend is not None:
                self.resend(ticket.build_id)
            self._set(task, phase=f"building ({ticket.url})")
            self._wait_for(ticket.build_id)
        self._finish(task, self._verdict(task, "checking again"))

    def _wait_for(self, build_id: int) -> None:
        deadline = time.monotonic() + self.build_wait
        while time.monotonic() < deadline:
            build = self.builds.get(build_id)
            if build is None or BuildState(build.state).finished:
                return
            if self.stopping.wait(self.poll):
                raise FarmError(
                    f"the server stopped while build {build_id} ran; /builds/{build_id} follows it"
                )
        raise FarmError(
            f"build {build_id} did not finish in {self.build_wait:.0f} s; /builds/{build_id} follows it"
        )

    def _mirror(self, task: Task) -> None:
        self._set(task, phase="checking")
        with self.sessions() as session:
            [verdict] = session.oracle.check([Requirement(str(task.project))], task.runtimes[:1])
            if not wants_mirroring(verdict):
                self._set(task, notes=[f"nothing to mirror: {verdict.status}: {verdict.reason}"])
                self._finish(task, verdict)
                return
            if session.mirror_for is None:
                raise FarmError(f"{task.project}: this server has no upstream index to mirror from")
            self._set(task, phase="mirroring")
            report = mirror_available(
                [verdict], session.mirror_for, _MirrorNotes(self, task), self.mirror_concurrency
            )
        if report is not None:
            notes = [
                f"mirrored: {report.downloaded} downloaded, {report.present} already present",
                *report.errors,
            ]
            self._set(task, notes=task.notes + notes)
        self._finish(task, self._verdict(task, "checking again"))
