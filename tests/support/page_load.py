"""A page load with wrk (installed by ``ci/test-assets.sh``): random paths from a list, pip's request headers, one wrk
thread (on a 2-core machine a second one competes with the server for the CPU and its descheduling shows up as
latency that is the load generator's). ``tests/bench/index_bench.py`` drives its servers the same way."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

PIP_HEADERS = ("Accept: text/html", "Accept-Encoding: gzip, deflate")  # what pip sends for a project page
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class PageLoad:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors

    def __str__(self) -> str:
        return f"{self.rps:,.0f} req/s, p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms ({self.requests} requests)"


def need_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        pytest.fail("wrk is missing: run `make test` (ci/test-assets.sh installs it)")
    return path


def run_wrk(url: str, paths: list[str], connections: int, seconds: int, scratch: Path) -> PageLoad:
    """``connections`` connections for ``seconds`` against ``url`` (a server root), each request a random path."""
    script = scratch / "paths.lua"
    script.write_text(
        f"local paths = {{{','.join(json.dumps(p) for p in paths)}}}\n"
        "request = function() return wrk.format('GET', paths[math.random(#paths)]) end\n"
    )
    headers = [arg for header in PIP_HEADERS for arg in ("-H", header)]
    command = [need_wrk(), "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    out = subprocess.run(
        [*command, "-s", str(script), *headers, url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout

    def found(pattern: str) -> re.Match[str]:
        match = re.search(pattern, out)
        assert match, f"wrk printed no {pattern!r}:\n{out}"
        return match

    def latency(percent: str) -> float:
        match = found(rf"\s{percent}%\s+([\d.]+)(us|ms|s)\b")
        return float(match.group(1)) * _UNITS[match.group(2)]

    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return PageLoad(
        requests=int(found(r"(\d+) requests in").group(1)),
        rps=float(found(r"Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        errors=(int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket.groups())) if socket else 0),
    )
