"""The read path of this checkout against an earlier revision's, in one run: same content, same machine, alternated.

``git archive REV`` is unpacked beside the run and put first on ``PYTHONPATH``, so ``wasmfarm serve`` from this
virtualenv runs that revision's ``farm`` and ``index_server`` (checked: the baseline process reports where its
packages came from). Each revision fills its own data directory from the same wheels with its own code. The two
servers are then driven in turns (A B, B A, ...) with wrk over the same paths, and the medians of the rounds are
compared, with the lowest and highest round shown beside them.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from tests.support.server import free_port, served_process

REPO = Path(__file__).resolve().parents[2]

FILL = """
import sys
from pathlib import Path
import farm
from farm.context import Farm
from farm.settings import Settings
assert farm.__file__.startswith(sys.argv[3]), (farm.__file__, sys.argv[3])
domain = Farm.open(Settings(data_dir=Path(sys.argv[1])))
for path in sorted(Path(sys.argv[2]).glob("*.whl")):
    with domain.blobs.writer() as writer:
        writer.write(path.read_bytes())
        domain.ingestor.ingest(writer, path.name, "uploaded")
domain.publisher.refresh_stale()
domain.close()
print(farm.__file__)
"""

Wrk = Callable[[str, list[str], int], tuple[float, float, int]]  # req/s, p99 ms, requests


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (from /proc: steadier than req/s on a shared machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def checkout(rev: str, base: Path) -> Iterator[Path]:
    target = base / f"baseline-{rev}"
    target.mkdir()
    archive = subprocess.run(["git", "archive", rev], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    yield target


def fill(code_dir: Path, data_dir: Path, wheels_dir: Path) -> str:
    """Fill a data directory with the wheels, using the code in ``code_dir``; returns where ``farm`` came from."""
    done = subprocess.run(
        [sys.executable, "-c", FILL, str(data_dir), str(wheels_dir), str(code_dir)],
        env={"PYTHONPATH": str(code_dir), "PATH": "/usr/bin:/bin", "HOME": str(data_dir.parent)},
        cwd=code_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"filling {data_dir} with the code of {code_dir} failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def compare(
    rev: str, base: Path, wheels_dir: Path, targets: dict[str, list[str]], wrk: Wrk, rounds: int
) -> None:
    """Print req/s and p99 of this checkout and of ``rev`` for each target and connection count, and the ratios."""
    with ExitStack() as stack:
        old_code = stack.enter_context(checkout(rev, base))
        servers: dict[str, str] = {}
        pids: dict[str, int] = {}
        for label, code, env in (
            (f"baseline {rev}", old_code, {"PYTHONPATH": str(old_code)}),
            ("this checkout", REPO, {}),
        ):
            data_dir = base / f"data-{label.replace(' ', '-')}"
            origin = fill(code, data_dir, wheels_dir)
            port = free_port()
            url, process = stack.enter_context(
                served_process(data_dir, env={**env, "WASMFARM_PORT": str(port)})
            )
            servers[label] = url.rstrip("/")
            pids[label] = process.pid
            first = next(iter(targets.values()))[0]
            headers = httpx.get(servers[label] + first, headers={"Accept": "text/html"}).headers
            print(
                f"{label}: farm from {origin}, serving {url} (its pages: nosniff "
                f"{headers.get('x-content-type-options') == 'nosniff'}, CSP {'content-security-policy' in headers})",
                flush=True,
            )
        samples: dict[tuple[str, str, int], list[tuple[float, float, float]]] = {}
        labels = list(servers)
        for round_ in range(rounds):
            order = labels if round_ % 2 == 0 else labels[::-1]
            for target, paths in targets.items():
                for connections in (16, 64):
                    for label in order:
                        before = cpu_seconds(pids[label])
                        rps, p99, requests = wrk(servers[label], paths, connections)
                        cpu_us = (cpu_seconds(pids[label]) - before) * 1e6 / max(requests, 1)
                        samples.setdefault((label, target, connections), []).append((rps, p99, cpu_us))
        _report(samples, labels, list(targets), rounds)


def _report(
    samples: dict[tuple[str, str, int], list[tuple[float, float, float]]],
    labels: list[str],
    targets: list[str],
    rounds: int,
) -> None:
    old, new = labels
    print(
        f"\nread path, this checkout against {old} (medians of {rounds} alternated rounds, [lowest-highest]):"
    )
    print(
        f"{'target':13s} {'conns':>5s} {'req/s ' + old:>26s} {'req/s this checkout':>26s} {'ratio':>6s}"
        f" {'server CPU us/req old':>24s} {'new':>20s} {'ratio':>6s}  p99 ms old/new"
    )
    for target in targets:
        for connections in (16, 64):
            a = samples[(old, target, connections)]
            b = samples[(new, target, connections)]
            a_rps, b_rps = [s[0] for s in a], [s[0] for s in b]
            a_cpu, b_cpu = [s[2] for s in a], [s[2] for s in b]
            print(
                f"{target:13s} {connections:5d} {_spread(a_rps, 0):>26s} {_spread(b_rps, 0):>26s} "
                f"{statistics.median(b_rps) / statistics.median(a_rps):6.3f} {_spread(a_cpu, 1):>24s} "
                f"{_spread(b_cpu, 1):>20s} {statistics.median(b_cpu) / statistics.median(a_cpu):6.3f}  "
                f"{statistics.median(s[1] for s in a):.2f}/{statistics.median(s[1] for s in b):.2f}"
            )


def _spread(values: list[float], digits: int) -> str:
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"
