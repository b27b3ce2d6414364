"""A mirror the size of PyPI (issue 16): mirror ingest in files/s, and a no-op re-mirror against one listing.

Part 1, ingest. A loopback upstream (``tests.support.upstream``, in a child process, as an upstream is elsewhere:
its serving takes no time from this interpreter; HTTP/1.1 with keep-alive, as PyPI's CDN) serves ``--files`` small real wheels (``--projects`` projects, every
version pure Python). The files are planned once (untimed: pages fetched, every version selected). Then,
alternately (A B C, C B A, ...), each round with a fresh data directory and database (made untimed):

- A, "download only": every file fetched by the mirror's client (``UpstreamIndex.download``, a new client) on as
  many threads as the mirror uses (``mirror_concurrency``), into plain files: the reference;
- B, "mirror ingest": ``Mirror.run`` of the planned files: downloaded, hashed as they arrive, checked against
  upstream's sha256 and the archive limits, METADATA read, blobs published, catalog rows written in batches, the
  projects' pages rendered at the end;
- C, "one transaction per file": B with batches of one file (``BatchLimits(files=1)``), as every file was recorded
  before issue 16.

``sha256sum`` + ``cp`` of the same files on disk (no network) is timed beside them and printed, not compared.

Part 2, no-op re-mirror: the 9 projects of ``make bench-mirror`` (31,289 files listed upstream, 10 selected) are
mirrored once (untimed); then alternately A, one upstream listing of the 9 (pages fetched and parsed by the mirror's
client, in this process), and B, ``wasmfarm mirror <9 names>`` run in this process (click's runner) against the
same database, a no-op. The interpreter start of the command as a process is ``make bench-mirror``'s subject.

Prints medians with [min-max] and ratios against the references; targets: B >= 500 files/s, no-op <= 1.5x listing.
Not a test: it asserts only that every run did what it should (every file in, the re-mirror a no-op).

    make bench-scale           # or: .venv/bin/python -m tests.bench.scale_bench [--database postgresql]
                               #     [--files 2000] [--projects 20] [--rounds 5] [--skip noop|ingest]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
from click.testing import CliRunner
from packaging.requirements import Requirement

from farm.cli.main import cli
from farm.context import Farm
from farm.mirror.batches import BatchLimits
from farm.mirror.mirror import Mirror, MirrorReport, PlannedFile, Progress
from farm.mirror.upstream import UpstreamIndex
from farm.settings import Settings
from tests.bench.mirror_bench import make_upstream
from tests.support.wheels import make_wheel

REPO = Path(__file__).resolve().parents[2]
PG_ADMIN = os.environ.get("WASMFARM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

SERVE = """
import sys
from pathlib import Path
from tests.support.upstream import UpstreamServer
server = UpstreamServer(Path(sys.argv[1]))
server.state.cache_pages = True
handler = server.httpd.RequestHandlerClass
handler.protocol_version = "HTTP/1.1"  # keep-alive, as a CDN (every answer has a length)
handler.disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK stall between them
with server:
    print(server.url, flush=True)
    sys.stdin.read()
"""


@contextmanager
def served(root: Path) -> Iterator[str]:
    """The loopback upstream over ``root`` in a child process; its URL."""
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


class Databases:
    """A fresh database per run: a SQLite file in the run's data directory, or a new PostgreSQL database."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.made: list[str] = []

    def url(self, data_dir: Path) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{data_dir / 'farm.sqlite'}"
        name = f"wasmfarm_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return f"{PG_ADMIN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg://')}/{name}"

    def drop(self) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in self.made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.made.clear()


def _spread(values: list[float], scale: float = 1.0, digits: int = 0) -> str:
    values = [v * scale for v in values]
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


# Part 1 ---------------------------------------------------------------------------------------------------------


def make_wheels(root: Path, files: int, projects: int) -> list[str]:
    per_project = -(-files // projects)
    names = [f"scale{p:03d}" for p in range(projects)]
    made = 0
    for name in names:
        for version in range(1, per_project + 1):
            if made < files:
                make_wheel(root, name, f"{version}.0", requires=["scale-base>=1"] if version % 3 == 0 else [])
                made += 1
    return names


class LastFile(Progress):
    """When the last file was recorded (what comes after is the rendering of the projects' pages)."""

    last = 0.0

    def advance(self, filename: str, outcome: str) -> None:
        self.last = time.perf_counter()


def plan(url: str, names: list[str], settings: Settings) -> list[PlannedFile]:
    farm = Farm.open(settings)
    index = UpstreamIndex(url)
    try:
        return Mirror(farm, index, settings.targets).plan_projects(
            [Requirement(n) for n in names], all_versions=True
        )
    finally:
        index.close()
        farm.close()


def ingest_part(args: argparse.Namespace, base: Path) -> None:
    root = base / "upstream"
    names = make_wheels(root, args.files, args.projects)
    databases = Databases(args.database)
    runs = iter(range(1_000_000))

    def fresh() -> Farm:
        data_dir = base / f"data-{next(runs)}"
        return Farm.open(Settings(data_dir=data_dir, database_url=databases.url(data_dir)))

    with served(root) as url:
        first = fresh()
        planned = plan(url, names, first.settings)
        concurrency = first.settings.mirror_concurrency
        first.close()
        size = sum(f.stat().st_size for f in root.glob("*.whl"))
        print(
            f"part 1: {len(planned)} wheels of {len(names)} projects, {size / 1e6:.1f} MB, upstream {url} "
            f"(a child process); database {args.database}; {concurrency} download threads; {args.rounds} rounds",
            flush=True,
        )
        if len(planned) != args.files:
            raise SystemExit(f"planned {len(planned)} files, not {args.files}")

        def download_only() -> float:
            target = base / f"plain-{next(runs)}"
            target.mkdir()
            index = UpstreamIndex(url)

            class Plain:  # what UpstreamIndex.download writes to: the bytes, nothing else
                def __init__(self, path: Path) -> None:
                    self.handle = path.open("wb")

                def reset(self) -> None:
                    self.handle.seek(0)
                    self.handle.truncate()

                def write(self, data: bytes) -> None:
                    self.handle.write(data)

            def fetch(item: PlannedFile) -> None:
                writer = Plain(target / item.file.filename)
                try:
                    index.download(item.file, writer)  # type: ignore[arg-type]
                finally:
                    writer.handle.close()

            started = time.perf_counter()
            try:
                with ThreadPoolExecutor(concurrency) as pool:
                    list(pool.map(fetch, planned))
            finally:
                index.close()
            elapsed = time.perf_counter() - started
            if len(list(target.iterdir())) != len(planned):
                raise SystemExit("the plain download missed files")
            return elapsed

        def mirror_run(limits: BatchLimits) -> Callable[[], float]:
            def run() -> float:
                farm = fresh()
                index = UpstreamIndex(url)
                try:
                    job = Mirror(farm, index, farm.settings.targets, batch_limits=limits)
                    progress = LastFile()
                    started = time.perf_counter()
                    report: MirrorReport = job.run(planned, progress, concurrency)
                    elapsed = time.perf_counter() - started
                finally:
                    index.close()
                    farm.close()
                if report.errors or report.downloaded != len(planned):
                    raise SystemExit(f"the mirror run failed: {report}")
                batches[limits.files].append(report.batches)
                pages[limits.files].append(started + elapsed - progress.last)
                return elapsed

            return run

        def checksum_and_copy() -> float:
            target = base / f"copy-{next(runs)}"
            target.mkdir()
            wheels = sorted(str(p) for p in root.glob("*.whl"))
            started = time.perf_counter()
            subprocess.run(["sha256sum", *wheels], stdout=subprocess.DEVNULL, check=True)
            subprocess.run(["cp", *wheels, str(target)], check=True)
            return time.perf_counter() - started

        default = BatchLimits()
        batches: dict[int, list[int]] = {default.files: [], 1: []}
        pages: dict[int, list[float]] = {default.files: [], 1: []}  # after the last file was recorded
        cases: dict[str, Callable[[], float]] = {
            "A  download only (reference)": download_only,
            f"B  mirror ingest, batches <= {default.files}": mirror_run(default),
            "C  one transaction per file": mirror_run(BatchLimits(files=1)),
        }
        times: dict[str, list[float]] = {label: [] for label in cases}
        beside: list[float] = []
        try:
            for round_ in range(args.rounds):
                order = list(cases) if round_ % 2 == 0 else list(reversed(cases))
                for label in order:
                    times[label].append(cases[label]())
                beside.append(checksum_and_copy())
                print(
                    f"  round {round_ + 1}: " + ", ".join(f"{t[-1]:.2f} s" for t in times.values()),
                    flush=True,
                )
        finally:
            databases.drop()
    rates = {label: [len(planned) / t for t in values] for label, values in times.items()}
    reference = statistics.median(rates["A  download only (reference)"])
    print(f"\n{'':36s} {'files/s median [min-max]':>26s}")
    for label, values in rates.items():
        note = f"   {statistics.median(values) / reference:.2f}x A"
        limit = default.files if label.startswith("B") else 1
        if label.startswith(("B", "C")):
            note += f"  ({statistics.median(batches[limit]):.0f} transactions)"
        print(f"{label:36s} {_spread(values):>26s}{note}")
        if label.startswith(("B", "C")):
            # The same runs up to their last file recorded: the pages rendered after it are a cost per project.
            ingest = [len(planned) / (t - p) for t, p in zip(times[label], pages[limit], strict=True)]
            note = f"   {statistics.median(ingest) / reference:.2f}x A"
            if label.startswith("B"):
                note += "  (target >= 500 files/s)"
            print(f"{'   of which ingest, to the last row':36s} {_spread(ingest):>26s}{note}")
            print(f"{'   then pages of the projects (s)':36s} {_spread(pages[limit], digits=2):>26s}")
    copy = [len(planned) / t for t in beside]
    print(f"{'   sha256sum + cp, local (beside)':36s} {_spread(copy):>26s}")


# Part 2 ---------------------------------------------------------------------------------------------------------


def noop_part(args: argparse.Namespace, base: Path) -> None:
    server, names = make_upstream(base / "noop", 1.0)
    databases = Databases(args.database)
    data_dir = base / "noop-data"
    env = {"WASMFARM_DATABASE_URL": databases.url(data_dir), "XDG_CONFIG_HOME": str(base / "xdg")}
    runner = CliRunner()
    try:
        with server:
            command = ["--data-dir", str(data_dir), "mirror", "--upstream", server.url, *names]
            first = runner.invoke(cli, command, env=env, catch_exceptions=False)
            if first.exit_code != 0:
                raise SystemExit(f"the first mirror failed:\n{first.stderr[-3000:]}")
            index = UpstreamIndex(server.url)
            listed = sum(len(page.files) for page in map(index.project, names) if page is not None)
            index.close()
            print(
                f"\npart 2: 9 projects, {listed} files listed upstream; database {args.database}; first mirror: "
                f"{[line for line in first.stderr.splitlines() if line.startswith('mirrored:')][-1]}",
                flush=True,
            )

            def listing() -> None:
                index = UpstreamIndex(server.url)
                try:
                    for name in names:
                        index.project(name)
                finally:
                    index.close()

            def noop() -> None:
                result = runner.invoke(cli, command, env=env, catch_exceptions=False)
                if result.exit_code != 0 or " 0 downloaded" not in result.stderr:
                    raise SystemExit(f"the re-mirror was not a no-op:\n{result.stderr[-3000:]}")

            cases: dict[str, Callable[[], None]] = {
                "A  one upstream listing": listing,
                "B  no-op wasmfarm mirror, in-process": noop,
            }
            times: dict[str, list[float]] = {label: [] for label in cases}
            for round_ in range(args.rounds):
                for label in list(cases) if round_ % 2 == 0 else list(reversed(cases)):
                    started = time.perf_counter()
                    cases[label]()
                    times[label].append(time.perf_counter() - started)
    finally:
        if args.database == "postgresql":
            databases.drop()
    a = statistics.median(times["A  one upstream listing"])
    print(f"{'':36s} {'ms median [min-max]':>26s}")
    for label, values in times.items():
        note = f"   {statistics.median(values) / a:.2f}x A (target <= 1.5x)" if label.startswith("B") else ""
        print(f"{label:36s} {_spread(values, 1000):>26s}{note}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--files", type=int, default=2000, help="wheels upstream serves for part 1")
    parser.add_argument("--projects", type=int, default=20, help="projects they belong to")
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds (at least 5 for a spread)")
    parser.add_argument("--skip", choices=["ingest", "noop"], help="leave one part out")
    args = parser.parse_args()
    os.environ.pop("WASMFARM_DATABASE_URL", None)
    with tempfile.TemporaryDirectory(prefix="wasmfarm-scale-bench-") as tmp:
        if args.skip != "ingest":
            ingest_part(args, Path(tmp))
        if args.skip != "noop":
            noop_part(args, Path(tmp))


if __name__ == "__main__":
    main()
