"""Compatibility oracle benchmark (prints figures; not a test).

1. The ``/compat`` summary with 10,000 generated projects (kept checks), server time (``Server-Timing``, measured
   around the handler in a real ``wasmfarm serve``): the HTML page, its JSON, a filtered page sorted by time
   (target < 100 ms each).
2. A stored check: ``Oracle.check`` of a mirrored project whose verdict is kept (the upstream page read over
   loopback, the closure resolved, the input key found in the store; no Pyodide), and the project's page with that
   check, server time (target < 20 ms each).
3. The real check of a wheel (its kept verdict removed first, untimed): ``Oracle.check`` with its trial in Pyodide
   under Node (the farm's sandbox, Pyodide restored from the runtime's kept snapshot, made in an untimed warm-up),
   against a bare micropip install + import of the same wheel in Pyodide under Node with no farm code (which boots),
   alternated (target <= 1.2x).
4. A batch scan of 50 mirrored projects (kept verdicts removed first, untimed), with two workers against one:
   the scan as the server runs it (``farm.compat.scan_jobs``: submitted, its batches run as jobs by a checks worker
   of one or two threads, timed until the scan's row says done; one sandbox and one Node per batch, every Pyodide
   restored from the runtime's kept snapshot), alternated (target >= 1.7x).

Each figure is the time of exactly what its label says; medians of the rounds with the lowest and highest round
in brackets.

    make bench-compat      # or: .venv/bin/python -m tests.bench.compat_bench [--rounds 5] [--scan-rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from dramatiq.brokers.stub import StubBroker
from packaging.requirements import Requirement
from sqlalchemy import delete, func, select

from farm.build.verify import serve_farm
from farm.compat.service import open_oracle, scan_jobs
from farm.context import Farm
from farm.mirror.upstream import UpstreamIndex
from farm.runtime.install import install_runtime
from farm.settings import Settings
from farm.store.models import CompatCheck
from tests.bench.verify_bench import BARE
from tests.conftest import CACHE, PYODIDE_VERSION
from tests.support.compat_checks import seed_checks
from tests.support.npm_registry import NpmRegistryServer
from tests.support.server import serve_process
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel

SCAN_PROJECTS = 50


def spread(values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    values = [v * scale for v in values]
    return f"{statistics.median(values):8.2f} {unit} [{min(values):.2f}-{max(values):.2f}]"


def alternate(
    rounds: int, runs: dict[str, Callable[[], object]], setup: Callable[[], None] = lambda: None
) -> dict[str, list[float]]:
    """Each label's wall-clock seconds per round, the order reversed every other round; ``setup`` (untimed) before
    each run."""
    samples: dict[str, list[float]] = {label: [] for label in runs}
    labels = list(runs)
    for round_ in range(rounds):
        for label in labels if round_ % 2 == 0 else labels[::-1]:
            setup()
            started = time.perf_counter()
            runs[label]()
            samples[label].append(time.perf_counter() - started)
    return samples


def server_time(response: httpx.Response) -> float:
    assert response.status_code == 200, response.text[:500]
    return float(response.headers["server-timing"].removeprefix("app;dur=")) / 1000


def summary_bench(base: Path, rounds: int) -> None:
    settings = Settings(data_dir=base / "summary")
    farm = Farm.open(settings)
    seed_checks(farm.engine, 10_000, [PYODIDE_VERSION])
    farm.close()
    targets = {
        "/compat (HTML)": {},
        "/compat?format=json": {"format": "json"},
        "/compat?status=fails&sort=checked&order=desc&page=20": {"status": "fails", "sort": "checked",
                                                                    "order": "desc", "page": 20},
    }  # fmt: skip
    with serve_process(settings.data_dir) as url, httpx.Client(base_url=url) as client:
        for params in targets.values():
            client.get("compat", params=params)  # warm
        samples: dict[str, list[float]] = {label: [] for label in targets}
        for round_ in range(rounds * 4):
            for label in list(targets) if round_ % 2 == 0 else list(targets)[::-1]:
                samples[label].append(server_time(client.get("compat", params=targets[label])))
    print(f"\n/compat with 10,000 generated projects, server time ({rounds * 4} alternated rounds):")
    for label, values in samples.items():
        print(
            f"  {label:58s} {spread(values, 'ms', 1000)}   {statistics.median(values) * 1000 / 100:.2f}x target"
        )
    print("  target: < 100 ms")


def prepare(base: Path) -> tuple[Settings, UpstreamServer, NpmRegistryServer]:
    """A farm with the runtime, greet (needs colorname) and 50 small projects mirrored from a loopback upstream."""
    upstream = base / "upstream"
    upstream.mkdir(parents=True)
    for name in ("micropip-0.11.1-py3-none-any.whl", "packaging-26.1-py3-none-any.whl"):
        shutil.copy(CACHE / "wheels" / name, upstream)
    make_wheel(upstream, "colorname", "2.1", module_source="NAME = 'teal'\n")
    source = "from colorname import NAME\ndef hello():\n    return f'hello {NAME}'\n"
    make_wheel(upstream, "greet", "1.0", requires=["colorname"], module_source=source)
    for i in range(SCAN_PROJECTS):
        make_wheel(upstream, f"scan{i:02d}", "1.0", requires=["colorname"], module_source=source)
    up = UpstreamServer(upstream).__enter__()
    npm = NpmRegistryServer({PYODIDE_VERSION: CACHE / "npm" / f"pyodide-{PYODIDE_VERSION}.tgz"}).__enter__()
    settings = Settings(
        data_dir=base / "data", npm_registry=npm.url, upstream_index=up.url, check_batch_size=20
    )
    farm = Farm.open(settings)
    install_runtime(farm, PYODIDE_VERSION)
    for wheel in sorted(upstream.glob("*.whl")):
        with farm.blobs.writer() as writer:
            writer.write(wheel.read_bytes())
            farm.ingestor.ingest(writer, wheel.name, "mirrored")
    farm.publisher.refresh_stale()
    farm.close()
    return settings, up, npm


@dataclass
class Bench:
    base: Path
    settings: Settings
    farm: Farm
    node: str

    def forget(self) -> None:
        """Every kept check removed (untimed, before a round that must run for real)."""
        with self.farm.engine.begin() as connection:
            connection.execute(delete(CompatCheck))

    def check_greet(self, expect_ran: bool) -> None:
        # A fresh upstream client each time, as the server's tasks have: no page cached from the last round.
        index = UpstreamIndex(self.settings.upstream_index)
        try:
            oracle, _trials = open_oracle(self.farm, index)
            [verdict] = oracle.check([Requirement("greet")], [PYODIDE_VERSION])
        finally:
            index.close()
        assert verdict.works and verdict.from_store is not expect_ran and (verdict.ran or not expect_ran), (
            verdict
        )


def stored_bench(bench: Bench, rounds: int) -> None:
    bench.check_greet(expect_ran=True)  # kept from now on
    env = {"WASMFARM_UPSTREAM_INDEX": bench.settings.upstream_index}
    page_times: list[float] = []
    with serve_process(bench.settings.data_dir, env) as url, httpx.Client(base_url=url) as client:
        client.get("compat/greet", params={"format": "json"})

        def page() -> None:
            page_times.append(server_time(client.get("compat/greet", params={"format": "json"})))

        runs = {"Oracle.check answered from the store": lambda: bench.check_greet(False), "page": page}
        stored = alternate(rounds, runs)
    print(f"\na stored check ({rounds} alternated rounds):")
    wall = stored["Oracle.check answered from the store"]
    print(f"  {'Oracle.check answered from the store (wall)':58s} {spread(wall, 'ms', 1000)}")
    print(f"  {'GET /compat/greet?format=json (server time)':58s} {spread(page_times, 'ms', 1000)}")
    print("  target: < 20 ms")


def real_bench(bench: Bench, rounds: int) -> None:
    settings, farm = bench.settings, bench.farm
    script = bench.base / "bare.mjs"
    script.write_text(BARE)
    row = farm.catalog.file("greet-1.0-py3-none-any.whl")
    assert row is not None
    greet = bench.base / row.filename
    greet.write_bytes(farm.blobs.path_for(row.sha256).read_bytes())
    with serve_farm(settings.www_dir, farm.blobs) as farm_url:
        config = bench.base / "bare.json"
        config.write_text(
            json.dumps(
                {
                    "pyodideDir": str(settings.www_dir / "pyodide" / PYODIDE_VERSION),
                    "packageBaseUrl": f"{farm_url}pyodide/{PYODIDE_VERSION}/",
                    "index": f"{farm_url}r/{PYODIDE_VERSION}/simple/",
                    "wheel": str(greet),
                    "name": greet.name,
                    "module": "greet",
                }
            )
        )

        def bare() -> None:
            out = subprocess.run(
                [bench.node, str(script), str(config)], capture_output=True, text=True, check=False
            )
            assert out.stdout.strip() == "ok", out.stderr[-2000:]

        bench.forget()
        bench.check_greet(True)  # untimed: the runtime's snapshot is made once, as on any farm's first check
        runs = {
            "bare micropip install + import under Node": bare,
            "Oracle.check, a real run": lambda: bench.check_greet(True),
        }
        real = alternate(rounds, runs, setup=bench.forget)
    bare_median = statistics.median(real["bare micropip install + import under Node"])
    print(f"\nthe real check of a wheel ({rounds} alternated rounds):")
    for label, values in real.items():
        print(f"  {label:58s} {spread(values)}   {statistics.median(values) / bare_median:5.2f}x bare")
    print("  target: Oracle.check <= 1.2x bare")


def scan_bench(bench: Bench, rounds: int) -> None:
    requirements = [Requirement(f"scan{i:02d}") for i in range(SCAN_PROJECTS)]
    batch = bench.settings.check_batch_size
    farms = {
        workers: scan_jobs(bench.farm, StubBroker(), lambda build_id, step: None, workers)
        for workers in (1, 2)
    }
    stops = [jobs.run_here(workers, sweep_every=60.0) for workers, jobs in farms.items()]

    def scan_with(workers: int) -> None:
        jobs = farms[workers]
        scan_id, joined = jobs.submit(requirements, [PYODIDE_VERSION])
        assert not joined
        while (found := jobs.records.get(scan_id)) is None or found["state"] in ("queued", "running"):
            time.sleep(0.05)
        assert found["state"] == "done" and found["progress"]["done"] == SCAN_PROJECTS, found
        with bench.farm.engine.connect() as connection:
            ran = connection.execute(select(func.count()).where(CompatCheck.ran)).scalar_one()
        assert ran == SCAN_PROJECTS, ran

    try:
        bench.forget()
        scan_with(2)  # warm-up, untimed: the runtime's files and the sandbox's binaries in the page cache
        runs = {"one worker": lambda: scan_with(1), "two workers": lambda: scan_with(2)}
        scans = alternate(rounds, runs, setup=bench.forget)
    finally:
        for stop in stops:
            stop()
    print(f"\na batch scan of {SCAN_PROJECTS} projects as jobs, batches of at most {batch} ({rounds} alternated "
          "rounds):")  # fmt: skip
    for label, values in scans.items():
        print(f"  {label:58s} {spread(values)}")
    speedup = statistics.median(scans["one worker"]) / statistics.median(scans["two workers"])
    print(f"  two workers are {speedup:.2f}x faster than one (target >= 1.7x; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at the end)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the summary, stored and real checks")
    parser.add_argument("--scan-rounds", type=int, default=3, help="rounds of the scan comparison")
    parser.add_argument(
        "--only", default="summary,stored,real,scan", help="some of: summary,stored,real,scan"
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    node = shutil.which("node")
    assert node, "node is needed"
    base = Path(tempfile.mkdtemp(prefix="wasmfarm-compatbench-"))
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    if "summary" in parts:
        summary_bench(base, args.rounds)
    if parts & {"stored", "real", "scan"}:
        settings, up, npm = prepare(base)
        bench = Bench(base, settings, Farm.open(settings), node)
        try:
            if "stored" in parts:
                stored_bench(bench, args.rounds * 4)
            if "real" in parts:
                real_bench(bench, args.rounds)
            if "scan" in parts:
                scan_bench(bench, args.scan_rounds)
        finally:
            bench.farm.close()
            up.__exit__(None, None, None)
            npm.__exit__(None, None, None)
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
