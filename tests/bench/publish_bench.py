"""What a change costs in a big catalog (issue 16), against the same measure in a small one, in one run.

Two data directories hold the same runtime and the same 50-project dependency tree (real wheels, uploaded); the
large one also holds ``--projects`` mirrored projects (rows only: ``tests/support/catalogs.py``). Both are set to
``runtime_lock = own``, the setting for large mirrors. Printed:

- **full render**: every page of the large catalog rendered from scratch (the tree removed first, so every file is
  written), against writing the very same files (read into memory first) with plain ``open``/``write`` and one
  ``syncfs``, alternated round by round. The render also rebuilds the runtime's lock (``own``: a few of its rows; the
  same lock, so it is not written again), which the reference does not;
- **upload visible**: from sending an upload to its project page, the root listing and the runtime's lock showing
  it (each polled every 10 ms; the root listing and the lock in turn, each timed when first seen), one upload at a
  time with a pause between, alternating the two servers;
- **server-side lock** of the 50-package closure, alternating the two servers.

Medians with the lowest and highest sample (and p99 where there are enough samples); ratios large/small.

    make bench-publish ARGS="--projects 10000"                       # SQLite
    make bench-publish ARGS="--projects 100000 --database postgresql"
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import psycopg

from farm.context import Farm
from farm.runtime.npm import NpmRegistry
from farm.settings import Settings
from farm.store.blobs import sync_filesystem
from farm.store.models import TokenScope
from tests.conftest import CACHE, PG_ADMIN, PYODIDE_VERSION
from tests.support.catalogs import synthetic_projects
from tests.support.clients import upload
from tests.support.npm_registry import NpmRegistryServer
from tests.support.server import served_process
from tests.support.wheels import make_wheel

V = PYODIDE_VERSION
TREE = 50
SMALL = 100
RUNTIME_WHEELS = ("micropip-0.11.1-py3-none-any.whl", "packaging-26.1-py3-none-any.whl")


def spread(samples: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    values = sorted(s * scale for s in samples)
    digits = 1 if unit == "s" else 0
    text = f"median {statistics.median(values):,.{digits}f} {unit} [{values[0]:,.{digits}f}-{values[-1]:,.{digits}f}]"
    if len(values) >= 20:
        text += f", p99 {values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]:,.{digits}f} {unit}"
    return text


def ratio(large: list[float], small: list[float]) -> str:
    return f"{statistics.median(large) / statistics.median(small):.2f}x"


@contextmanager
def database(kind: str, label: str) -> Iterator[str | None]:
    if kind == "sqlite":
        yield None
        return
    name = f"wasmfarm_bench_{label}_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill(settings: Settings, wheels: list[Path], projects: int, npm_url: str) -> tuple[str, float]:
    """Install the runtime, ingest the tree and add ``projects`` synthetic ones; an upload token, and the seconds
    the synthetic rows took to add."""
    farm = Farm.open(settings)
    try:
        registry = NpmRegistry(npm_url)
        farm.runtimes.add(V, registry)
        registry.close()
        for path in wheels:
            with farm.blobs.writer() as writer:
                writer.write(path.read_bytes())
                farm.ingestor.ingest(
                    writer, path.name, "mirrored" if path.parent == CACHE / "wheels" else "uploaded"
                )
        started = time.perf_counter()
        synthetic_projects(farm, 0, projects)
        added = time.perf_counter() - started
        farm.publisher.refresh_stale()
        return farm.tokens.create(TokenScope.UPLOAD).secret, added
    finally:
        farm.close()


def page_files(www: Path) -> dict[Path, bytes]:
    return {
        path: path.read_bytes()
        for view in ("simple", "r")
        if (www / view).is_dir()
        for path in (www / view).rglob("*")
        if path.is_file()
    }


def full_render(settings: Settings) -> float:
    farm = Farm.open(settings)
    try:
        for view in ("simple", "r"):
            shutil.rmtree(settings.www_dir / view, ignore_errors=True)
        farm.catalog.mark_all_stale()
        started = time.perf_counter()
        farm.publisher.refresh_stale()
        return time.perf_counter() - started
    finally:
        farm.close()


def plain_write(files: dict[Path, bytes], source: Path, scratch: Path) -> float:
    shutil.rmtree(scratch, ignore_errors=True)
    started = time.perf_counter()
    for path, data in files.items():
        target = scratch / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(data)
    sync_filesystem(scratch)
    return time.perf_counter() - started


def compare_full_render(large: Settings, base: Path, rounds: int, projects: int) -> None:
    files = page_files(large.www_dir)
    size = sum(len(b) for b in files.values())
    print(f"large page tree: {len(files):,} files, {size / 1e6:.1f} MB", flush=True)
    renders: list[float] = []
    writes: list[float] = []
    for round_ in range(rounds):
        steps = [
            lambda: renders.append(full_render(large)),
            lambda: writes.append(plain_write(files, large.www_dir, base / "plain")),
        ]
        for step in steps if round_ % 2 == 0 else steps[::-1]:
            step()
    shutil.rmtree(base / "plain", ignore_errors=True)
    print(
        f"full render of {projects + TREE + 2:,} projects: {spread(renders, 's', 1)}; writing the same "
        f"{len(files):,} files plainly: {spread(writes, 's', 1)}; ratio {ratio(renders, writes)}",
        flush=True,
    )


def poll(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError("not visible within 60 s")
        time.sleep(0.01)


def visible(url: str, token: str, wheel: Path, client: httpx.Client) -> dict[str, float]:
    """Seconds from sending the upload to: its answer, its project page, the root listing, the runtime's lock."""
    name = wheel.name.split("-")[0].replace("_", "-")
    times: dict[str, float] = {}
    started = time.perf_counter()
    response = upload(url, wheel, token)
    response.raise_for_status()
    times["answer"] = time.perf_counter() - started
    poll(lambda: client.get(f"{url}simple/{name}/").status_code == 200)
    times["project page"] = time.perf_counter() - started

    def listed() -> bool:
        projects = client.get(url + "simple/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        return name in {p["name"] for p in projects.json()["projects"]}

    def locked() -> bool:
        return name in client.get(f"{url}pyodide/{V}/pyodide-lock.json").json()["packages"]

    pending = {"root listing": listed, "runtime lock": locked}

    def all_seen() -> bool:  # both polled in turn, each timed when first seen: neither waits for the other
        for stage, check in list(pending.items()):
            if check():
                times[stage] = time.perf_counter() - started
                del pending[stage]
        return not pending

    poll(all_seen)
    return times


def server_lock(url: str, client: httpx.Client) -> float:
    started = time.perf_counter()
    response = client.post(url + f"r/{V}/lock", json={"requirements": ["tree00"]})
    response.raise_for_status()
    assert len(response.json()["packages"]) >= TREE
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=10_000, help="mirrored projects in the large catalog")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--render-rounds", type=int, default=3, help="alternated full renders and plain writes (0: none)"
    )
    parser.add_argument("--uploads", type=int, default=20, help="uploads timed on each server")
    parser.add_argument("--locks", type=int, default=10, help="server-side locks timed on each server")
    args = parser.parse_args()

    with ExitStack() as stack:
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="publish-bench-")))
        npm = stack.enter_context(NpmRegistryServer({V: CACHE / "npm" / f"pyodide-{V}.tgz"}))
        wheels = [CACHE / "wheels" / name for name in RUNTIME_WHEELS]
        for i in range(TREE):
            requires = [f"tree{j:02d}>=1" for j in (2 * i + 1, 2 * i + 2) if j < TREE]
            wheels.append(make_wheel(base / "wheels", f"tree{i:02d}", "1.0", requires=requires))
        sizes = {"small": SMALL, "large": args.projects}
        settings: dict[str, Settings] = {}
        tokens: dict[str, str] = {}
        for label, projects in sizes.items():
            url = stack.enter_context(database(args.database, label))
            extra = {"database_url": url} if url else {}
            settings[label] = Settings(data_dir=base / label, runtime_lock="own", **extra)
            tokens[label], added = fill(settings[label], wheels, projects, npm.url)
            print(
                f"{label}: {projects:,} synthetic projects added in {added:.1f} s ({args.database})",
                flush=True,
            )

        if args.render_rounds:
            compare_full_render(settings["large"], base, args.render_rounds, args.projects)

        urls = {}
        for label, s in settings.items():
            # The public URL the pages were rendered for: another one would have the server render them all again.
            env = {"WASMFARM_RUNTIME_LOCK": "own", "WASMFARM_PUBLIC_URL": s.resolved_public_url}
            if s.database_url:
                env["WASMFARM_DATABASE_URL"] = s.database_url
            urls[label], _process = stack.enter_context(served_process(s.data_dir, env=env))
        timings: dict[str, dict[str, list[float]]] = {label: {} for label in urls}
        locks: dict[str, list[float]] = {label: [] for label in urls}
        with httpx.Client(timeout=60) as client:
            for url in urls.values():
                server_lock(url, client)  # the first starts the lock worker
            for i in range(args.uploads):
                for label in list(urls) if i % 2 == 0 else list(urls)[::-1]:
                    wheel = make_wheel(base / "uploads" / label, f"probe{i:03d}", "1.0")
                    for stage, seconds in visible(urls[label], tokens[label], wheel, client).items():
                        timings[label].setdefault(stage, []).append(seconds)
                    time.sleep(0.5)  # apart: each upload alone, as an isolated upload is
            for i in range(args.locks):
                for label in list(urls) if i % 2 == 0 else list(urls)[::-1]:
                    locks[label].append(server_lock(urls[label], client))
        for stage in timings["large"]:
            print(
                f"upload -> {stage}: large {spread(timings['large'][stage])}; small "
                f"{spread(timings['small'][stage])}; ratio {ratio(timings['large'][stage], timings['small'][stage])}"
            )
        print(
            f"server-side lock of the {TREE}-package closure: large {spread(locks['large'])}; small "
            f"{spread(locks['small'])}; ratio {ratio(locks['large'], locks['small'])}"
        )


if __name__ == "__main__":
    main()
