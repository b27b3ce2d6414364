"""The build farm's jobs: dramatiq actors for build, verify and publish, over Redis, RabbitMQ or an in-process broker.

``broker_url`` unset: a stub broker and a worker thread in this process (``wasmfarm serve``, ``wasmfarm build``),
no broker service needed. ``redis://`` or ``amqp://``: ``wasmfarm worker`` processes on any machine that shares the
database, the broker and the data directory split the work. Messages only say "advance build N"; the database says
whether that still needs doing (see ``farm.build.state``), so duplicates and redeliveries are harmless.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker

from farm.build.crossbuild import CrossBuildPackage
from farm.build.image import BuilderStore
from farm.build.runner import BuildLog, BuildOutput, BuildRequest, run_build, verify_and_publish
from farm.build.sandbox import kill_group
from farm.build.state import BUILD, BUILT, PUBLISH, VERIFIED, VERIFY, BuildStates
from farm.errors import BuildFailed, FarmError, InvalidDistribution, RecipeInvalid
from farm.recipe.graph import dependencies
from farm.recipe.loader import load_recipes
from farm.store.models import BuildState

log = logging.getLogger(__name__)
QUEUE = "wasmfarm-builds"


def make_broker(url: str | None) -> dramatiq.Broker:
    if not url:
        return StubBroker()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url, heartbeat_timeout=15_000, dead_message_ttl=86_400_000)  # type: ignore[no-untyped-call]
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    raise FarmError(f"broker_url {url!r}: use redis://host:port/db or amqp://user:pass@host:port/vhost")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@dataclass
class BuildFarm:
    """Executes the steps of builds; the actors call into it."""

    farm: Any  # farm.context.Farm
    states: BuildStates
    builders: BuilderStore
    _process: dict[int, int] = field(default_factory=dict)  # build -> process group of its running sandbox

    def work_dir(self, build_id: int) -> Path:
        return Path(self.farm.settings.data_dir) / "builds" / str(build_id)

    def log_path(self, build_id: int) -> Path:
        return self.work_dir(build_id) / "build.log"

    def _request(self, build_id: int) -> BuildRequest:
        build = self.states.get(build_id)
        if build is None:
            raise BuildFailed(f"build {build_id} does not exist")
        recipes, _problems = load_recipes(*self.farm.settings.recipe_dirs)
        recipe = next((r for r in recipes if r.name == build.recipe), None)
        if recipe is None:
            where = " or ".join(str(d) for d in self.farm.settings.recipe_dirs)
            raise BuildFailed(f"recipe {build.recipe!r} is not in {where} any more")
        libraries, cross_build = [], []
        known = {r.name for r in recipes}
        host = dependencies(recipe, known, host_only=True)
        for dep in sorted(dependencies(recipe, known)):
            dep_recipe = next(r for r in recipes if r.name == dep)
            latest = [b for b in self.states.recent(recipe=dep, limit=20) if b.runtime == build.runtime]
            done = next((b for b in latest if b.state == BuildState.SUCCEEDED), None)
            if done is None:
                if any(not BuildState(b.state).finished for b in latest):
                    raise DependencyPending(dep)
                raise BuildFailed(
                    f"{recipe.name} needs recipe {dep}, which has no successful build for {build.runtime}"
                )
            if dep_recipe.recipe.is_library and done.wheel_sha256:
                libraries.append(self.farm.blobs.path_for(done.wheel_sha256))
            elif dep_recipe.recipe.build.cross_build_env and dep in host and done.wheel_sha256:
                cross_build.append(
                    CrossBuildPackage(
                        dep_recipe.name,
                        dep_recipe.recipe.package.version,
                        self.farm.blobs.path_for(done.wheel_sha256),
                        done.wheel_filename or "",
                        tuple(dep_recipe.recipe.build.cross_build_files),
                        dep_recipe.path,
                    )
                )
        image = self.builders.load(build.builder)
        return BuildRequest(
            build_id,
            recipe,
            build.runtime,
            image,
            self.work_dir(build_id),
            libraries,
            on_process=lambda pid: self._process.__setitem__(build_id, pid),
            key=build.key,
            cross_build=cross_build,
        )

    def _heartbeat(self, build_id: int, worker: str) -> Callable[[], None]:
        """Report liveness while the step runs; kill the running sandbox when the build is cancelled."""
        stop = threading.Event()
        interval = max(min(self.states.lease.total_seconds() / 4, 5.0), 0.5)

        def beat() -> None:
            while not stop.wait(interval):
                self.states.heartbeat(build_id, worker)
                build = self.states.get(build_id)
                if build is not None and build.state == BuildState.CANCELLED and self._process.get(build_id):
                    kill_group(self._process[build_id])

        threading.Thread(target=beat, daemon=True, name=f"heartbeat-{build_id}").start()
        return stop.set

    def advance(self, build_id: int, step: str, send: Callable[..., None]) -> None:
        worker = worker_name()
        if not self.states.claim(build_id, step, worker):
            log.info(
                "build %s: step %s is not mine to run (done, running elsewhere, or cancelled)", build_id, step
            )
            return
        stop = self._heartbeat(build_id, worker)
        build_log = BuildLog(self.log_path(build_id))
        try:
            self._run_step(build_id, step, build_log, send)
        except DependencyPending as exc:
            build_log(f"# waiting for {exc} to be built first")
            self.states.requeue(build_id, step)
            self.states.update(
                build_id, attempts=max((self.states.get(build_id) or _NoBuild).attempts - 1, 0)
            )
            send(build_id, step, delay=2000)
        except (
            BuildFailed,
            RecipeInvalid,
            InvalidDistribution,
        ) as exc:  # the recipe's or the wheel's: permanent
            build_log(f"# FAILED: {exc}")
            self.states.finish(build_id, BuildState.FAILED, error=str(exc), worker=worker)
        except Exception as exc:  # noqa: BLE001 - the farm's fault (not the recipe's): retried a few times
            build_log(f"# error (will retry): {exc}\n{traceback.format_exc()}")
            build = self.states.get(build_id)
            if build is not None and build.attempts < self.farm.settings.build_attempts:
                self.states.requeue(build_id, step)
                send(build_id, step if step != BUILD else BUILD)
            else:
                self.states.finish(build_id, BuildState.FAILED, error=f"{type(exc).__name__}: {exc}")
        finally:
            stop()
            build_log.close()

    def _run_step(self, build_id: int, step: str, build_log: BuildLog, send: Callable[..., None]) -> None:
        timer = StepTimer(build_log)
        try:
            self._run_timed_step(build_id, step, build_log, send, timer)
        finally:
            self.states.add_timings(build_id, timer.stop())

    def _run_timed_step(
        self, build_id: int, step: str, build_log: BuildLog, send: Callable[..., None], timer: StepTimer
    ) -> None:
        request = self._request(build_id)
        if step == BUILD:
            build_log(f"# attempt by {worker_name()}")
            try:
                out = run_build(self.farm, request, build_log, timer)
            finally:  # the build's private copy of Emscripten's cache (tens of MB) is not worth keeping
                shutil.rmtree(request.work / "emcache", ignore_errors=True)
            assert out.artifact is not None
            with out.artifact.open("rb") as handle:
                sha = self.farm.blobs.put_stream(handle)[0]
            if out.unvendored_tests is not None:
                with out.unvendored_tests.open("rb") as handle:
                    tests_sha = self.farm.blobs.put_stream(handle)[0]
                out.checks["unvendored_tests"] = {"filename": out.unvendored_tests.name, "sha256": tests_sha}
            values = {"wheel_filename": out.artifact.name, "wheel_sha256": sha, "checks": out.checks}
            self.states.update(build_id, build_seconds=round(out.build_seconds, 2), **values)
            if request.recipe.recipe.is_library:
                self.states.finish(build_id, BuildState.SUCCEEDED)
                return
            self.states.update(build_id, step=BUILT)
            send(build_id, VERIFY)
        elif step == VERIFY:
            out = self._built(build_id, request)
            try:
                verify_and_publish(self.farm, request, out, build_log, timer, publish=False)
            finally:
                self.states.update(build_id, verification=out.verification)
            self.states.update(build_id, step=VERIFIED)
            send(build_id, PUBLISH)
        elif step == PUBLISH:
            out = self._built(build_id, request)
            verify_and_publish(self.farm, request, out, build_log, timer, verify=False)
            self.states.finish(
                build_id, BuildState.SUCCEEDED, published=True, wheel_filename=out.published_filename
            )

    def _built(self, build_id: int, request: BuildRequest) -> BuildOutput:
        """What the build step left: the wheel (kept in the blob store under its sha256)."""
        build = self.states.get(build_id)
        assert build is not None and build.wheel_filename and build.wheel_sha256
        artifact = self._artifact(request, build.wheel_filename, build.wheel_sha256)
        checks = json.loads(build.checks) if build.checks else {}
        return BuildOutput(artifact=artifact, artifact_sha256=build.wheel_sha256, checks=checks)

    def _artifact(self, request: BuildRequest, filename: str, sha256: str) -> Path:
        """The built wheel under its own name (the blob store names files by hash)."""
        path = request.work / "out" / filename
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.farm.blobs.path_for(sha256).read_bytes())
        return path


class StepTimer:
    """Seconds spent in each step of a job (kept in the build's ``timings``), and a log line per step."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.seconds: dict[str, float] = {}
        self._current: tuple[str, float] | None = None

    def __call__(self, step: str) -> None:
        self.stop()
        self.log(f"# step: {step}")
        self._current = (step, time.monotonic())

    def stop(self) -> dict[str, float]:
        if self._current is not None:
            name, started = self._current
            self.seconds[name] = self.seconds.get(name, 0.0) + time.monotonic() - started
            self._current = None
        return self.seconds


class _NoBuild:
    attempts = 1


class DependencyPending(Exception):
    """A recipe this build needs is still being built: try again shortly (not an attempt)."""


class Jobs:
    """The actors, bound to one broker."""

    def __init__(self, build_farm: BuildFarm, broker: dramatiq.Broker) -> None:
        self.build_farm = build_farm
        self.broker = broker
        self.actors = {
            step: dramatiq.actor(  # type: ignore[call-overload]
                self._bind(step),
                broker=broker,
                actor_name=f"wasmfarm_{step}",
                queue_name=QUEUE,
                max_retries=0,
                time_limit=int(build_farm.farm.settings.build_timeout * 1000) + 600_000,
            )
            for step in (BUILD, VERIFY, PUBLISH)
        }

    def _bind(self, step: str) -> Callable[[int], None]:
        def run(build_id: int) -> None:
            self.build_farm.advance(build_id, step, self.send)

        run.__name__ = f"wasmfarm_{step}"
        return run

    def send(self, build_id: int, step: str, delay: int | None = None) -> None:
        self.actors[step].send_with_options(args=(build_id,), delay=delay)

    def recover(self, *, stale_only: bool = False) -> int:
        """Re-send every queued build (at the start of a worker: an in-process broker forgets its messages) and
        every running build whose worker died."""
        found = self.build_farm.states.recoverable(stale_only=stale_only)
        for build_id, step in found:
            self.send(build_id, step)
        return len(found)

    def worker(self, threads: int = 1) -> dramatiq.Worker:
        # The builds queue only: scans have a worker of their own (farm.compat.scan_jobs) on the same broker.
        worker = dramatiq.Worker(self.broker, queues={QUEUE}, worker_threads=threads, worker_timeout=500)
        # A build takes minutes: a worker holds only the messages it can run now, so idle workers get the rest.
        worker.queue_prefetch = threads
        return worker

    def drain(self, until: Callable[[], bool], poll: float = 0.5) -> None:
        """Embedded mode: run a worker in this process until ``until()`` holds."""
        worker = self.worker()
        worker.start()
        try:
            while not until():
                time.sleep(poll)
        finally:
            worker.stop()


__all__ = ["BUILD", "BUILT", "VERIFIED", "BuildFarm", "Jobs", "make_broker"]
