"""Distributed builds: `wasmfarm worker` processes sharing PostgreSQL, Redis and the data directory.

A worker killed with SIGKILL mid-build: its build is taken over once its heartbeat goes silent and completes once.
Two workers split a set of recipes and build each exactly once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.conftest import _create_pg_database, _drop_pg_database
from tests.e2e.buildfarm import SHIPPED, BuildFarmEnv, Loopback, new_farm
from tests.support.server import wasmfarm_command

pytestmark = [pytest.mark.timeout(1200), pytest.mark.postgres]
REDIS = "redis://127.0.0.1:6379"


@pytest.fixture
def distributed(tmp_path: Path, loopback: Loopback, postgres_server: str) -> Iterator[BuildFarmEnv]:
    name, url = _create_pg_database(postgres_server)
    db = 1 + uuid.uuid4().int % 14  # a Redis database of its own, flushed
    client = redis.Redis.from_url(f"{REDIS}/{db}")
    client.flushdb()
    try:
        yield new_farm(
            tmp_path, loopback, database_url=url, broker_url=f"{REDIS}/{db}", build_lease_seconds="4"
        )
    finally:
        client.flushdb()
        with contextlib.suppress(psycopg.Error):
            _drop_pg_database(postgres_server, name)


@contextlib.contextmanager
def workers(env: BuildFarmEnv, count: int, logs: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = []
    for n in range(count):
        log = (logs / f"worker-{n}-{time.monotonic_ns()}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [*wasmfarm_command(), "worker"], env=env.env, stdout=log, stderr=log, start_new_session=True
            )
        )
    try:
        yield procs
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_worker_killed_mid_build_is_taken_over_and_completes_once(
    distributed: BuildFarmEnv, tmp_path: Path
) -> None:
    env = distributed
    queued = env.run("build", "--no-wait", "pyroaring")
    assert queued.returncode == 0, queued.stderr
    with workers(env, 1, tmp_path) as (first,):
        log = env.data_dir / "builds" / "1" / "build.log"
        wait_for(lambda: log.is_file() and "# step: build" in log.read_text(), 120, "the compile to start")
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its sandbox, mid-compile
        first.wait(10)
    [build] = env.builds()
    assert build["state"] == "running"  # nobody finished it; the database still says who had it

    with workers(env, 1, tmp_path):
        wait_for(lambda: env.builds()[0]["state"] in ("succeeded", "failed"), 300, "the build to finish")
    [build] = env.builds()
    assert build["state"] == "succeeded" and build["attempts"] == 2, build
    text = log.read_text()
    assert text.count("# attempt by") == 2 and text.count("# published") == 1
    with psycopg.connect(str(env.env["WASMFARM_DATABASE_URL"]).replace("+psycopg", "")) as conn:
        files = conn.execute("SELECT filename FROM dist_file WHERE filename LIKE 'pyroaring-%'").fetchall()
    assert len(files) == 1


def test_two_workers_split_recipes_and_build_each_once(distributed: BuildFarmEnv, tmp_path: Path) -> None:
    env = distributed
    with workers(env, 2, tmp_path) as procs:
        result = env.run("build", *SHIPPED)  # follows the workers' progress until every build finishes
        assert result.returncode == 0, result.stderr[-3000:]
    builds = env.builds()
    assert sorted(b["recipe"] for b in builds) == sorted(SHIPPED)  # one build per recipe
    assert all(b["state"] == "succeeded" and b["attempts"] == 1 for b in builds), builds
    builders = set()  # the worker that ran each build step, from its log ("# attempt by host:pid:thread")
    for b in builds:
        log = (env.data_dir / "builds" / str(b["id"]) / "build.log").read_text()
        [attempt] = [line for line in log.splitlines() if line.startswith("# attempt by ")]
        builders.add(attempt.split(":")[1])
    assert builders == {str(p.pid) for p in procs}  # both workers took a share of the compiles


def test_a_running_build_is_cancelled_and_its_sandbox_killed(
    distributed: BuildFarmEnv, tmp_path: Path
) -> None:
    env = distributed
    assert env.run("build", "--no-wait", "kiwisolver").returncode == 0
    with workers(env, 1, tmp_path):
        log = env.data_dir / "builds" / "1" / "build.log"
        wait_for(lambda: log.is_file() and "# step: build" in log.read_text(), 120, "the compile to start")
        cancelled = env.run("build-cancel", "1")
        assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
        wait_for(lambda: "# FAILED" in log.read_text(), 60, "the worker to kill the compile")
    [build] = env.builds()
    assert build["state"] == "cancelled" and not build["published"]
    assert not (env.data_dir / "www" / "simple" / "kiwisolver").exists()
    assert "build 1 (kiwisolver) is cancelled: nothing to cancel" in env.run("build-cancel", "1").stderr


def test_a_worker_over_rabbitmq_builds(tmp_path: Path, loopback: Loopback, postgres_server: str) -> None:
    from farm.build.jobs import make_broker

    name, url = _create_pg_database(postgres_server)
    amqp = "amqp://guest:guest@127.0.0.1:5672/"
    broker = make_broker(amqp)
    broker.declare_queue("wasmfarm-builds")
    broker.flush_all()  # a queue of its own would need a vhost; nothing else uses this one
    broker.close()
    try:
        env = new_farm(tmp_path, loopback, database_url=url, broker_url=amqp, build_lease_seconds="4")
        with workers(env, 1, tmp_path):
            result = env.run("build", "markupsafe")
        assert result.returncode == 0, result.stderr[-3000:]
        [build] = env.builds()
        assert build["state"] == "succeeded" and build["published"] and build["attempts"] == 1
    finally:
        with contextlib.suppress(psycopg.Error):
            _drop_pg_database(postgres_server, name)
