"""Index serving benchmark: wasmfarm against nginx, devpi-server and pypiserver on the same content, in one run.

Serves a 300-project, 900-file index and drives each server with wrk at 16 and 64 connections: project pages
(a random project per request) and a 100 KB wheel, with the Accept and Accept-Encoding headers pip sends. Every round
visits the servers in a rotated order (``--server-rounds``); prints the medians of the rounds with their spread, p99
latency and ratios against nginx serving the same content as plain static files (with the production layout's
descriptor cache and precompressed pages), measured in this run. Not a test: it asserts nothing, it reports.

wrk runs with one thread for every server: on a 2-core machine a second wrk thread competes with a single-process
server for the CPU and its descheduling shows up as tail latency that is the load generator's, not the server's.

    make bench                      # or: .venv/bin/python -m tests.bench.index_bench [--seconds 5]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from farm.context import Farm
from farm.index.nginx import nginx_config_text
from farm.settings import Settings
from tests.bench import baseline
from tests.support.nginx import nginx
from tests.support.server import free_port, serve_process
from tests.support.wheels import make_wheel

PROJECTS = 300
FILES_PER_PROJECT = 3
BIG_WHEEL_BYTES = 100_000


@dataclass
class Result:
    server: str
    target: str
    connections: int
    rps: float
    p99_ms: float


def build_content(base: Path) -> tuple[list[Path], Path]:
    wheels_dir = base / "wheels"
    wheels = []
    for i in range(PROJECTS):
        for v in range(FILES_PER_PROJECT):
            wheels.append(make_wheel(wheels_dir, f"proj{i:03d}", f"1.{v}"))
    big = make_wheel(wheels_dir, "bigwheel", "1.0", padding=BIG_WHEEL_BYTES - 600)
    return wheels, big


def fill_wasmfarm(settings: Settings, wheels: list[Path]) -> None:
    farm = Farm.open(settings)
    for path in wheels:
        with farm.blobs.writer() as writer:
            writer.write(path.read_bytes())
            farm.ingestor.ingest(writer, path.name, "uploaded")
    farm.publisher.refresh_stale()
    farm.close()


def static_copy(settings: Settings, target: Path) -> None:
    """The same pages and files as a plain static tree (what nginx serves in the reference)."""
    shutil.copytree(settings.www_dir / "simple", target / "simple")
    for blob in settings.blob_dir.glob("??/*"):
        if blob.suffix == ".metadata":
            continue
        dest = target / "files" / blob.parent.name / blob.name
        dest.mkdir(parents=True, exist_ok=True)
    farm = Farm.open(settings, migrate_schema=False)
    for project in farm.catalog.all_projects():
        for row in farm.catalog.project_files(project.id or 0):
            dest = target / "files" / row.sha256[:2] / row.sha256 / row.filename
            shutil.copy(settings.blob_dir / row.sha256[:2] / row.sha256, dest)
    farm.close()


@contextmanager
def devpi(base: Path, wheels: list[Path]) -> Iterator[str]:
    server_dir = base / "devpi"
    subprocess.run(
        [bin_("devpi-init"), "--serverdir", str(server_dir), "--no-root-pypi"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    process = subprocess.Popen(
        [bin_("devpi-server"), "--serverdir", str(server_dir), "--port", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/+api")
        login = httpx.post(
            url + "/+login", json={"user": "root", "password": ""}, headers={"Accept": "application/json"}
        ).json()
        user, token = "root", login["result"]["password"]
        auth = {
            "X-Devpi-Auth": base64.b64encode(f"{user}:{token}".encode()).decode(),
            "Accept": "application/json",
        }
        httpx.put(url + "/root/bench", json={"bases": [], "volatile": True}, headers=auth).raise_for_status()
        with httpx.Client(headers=auth, timeout=60) as client:
            for path in wheels:
                name, version = path.name.split("-")[:2]
                with path.open("rb") as handle:
                    client.post(
                        url + "/root/bench/",
                        data={":action": "file_upload", "name": name, "version": version},
                        files={"content": (path.name, handle)},
                    ).raise_for_status()
        yield url + "/root/bench/+simple/"
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def pypiserver(wheels_dir: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            bin_("pypi-server"),
            "run",
            "-p",
            str(port),
            "-i",
            "127.0.0.1",
            "-a",
            ".",
            "-P",
            ".",
            str(wheels_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/simple/")
        yield url + "/simple/"
    finally:
        process.terminate()
        process.wait(10)


def bin_(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise SystemExit(f"{name} is not installed: run `make bench` (installs the bench extras)")
    return str(path)


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


CLIENT_HEADERS = ["Accept: text/html", "Accept-Encoding: gzip, deflate"]  # what pip sends for a project page


def wrk(
    url_base: str, paths: list[str], connections: int, seconds: int, base: Path
) -> tuple[float, float, int]:
    """req/s, p99 latency in ms, and the number of requests made, with pip's Accept and Accept-Encoding."""
    script = base / f"paths-{random.randrange(1 << 30)}.lua"
    quoted = ",".join(json.dumps(p) for p in paths)
    script.write_text(
        f"local paths = {{{quoted}}}\n"
        "request = function() return wrk.format('GET', paths[math.random(#paths)]) end\n"
    )
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(script),
            *[arg for header in CLIENT_HEADERS for arg in ("-H", header)],
            url_base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99, out
    value, unit = float(p99.group(1)), p99.group(2)
    p99_ms = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    if "Non-2xx" in out:
        raise RuntimeError(f"{url_base}: non-2xx responses during the run:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, p99_ms, requests


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        help="skip a server (devpi, pypiserver) or `others`: all of them",
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also compare this checkout's read path with git revision REV's, alternated in this run",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternated rounds of the --baseline comparison"
    )
    parser.add_argument(
        "--server-rounds", type=int, default=3, help="rounds over the servers, each in a rotated order"
    )
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: `make bench` installs it (ci/bench-deps.sh)")

    base = Path(tempfile.mkdtemp(prefix="wasmfarm-bench-"))
    base.chmod(0o755)  # nginx workers run as another user
    wheels, big = build_content(base)
    names = [f"proj{i:03d}" for i in range(PROJECTS)]
    settings = Settings(data_dir=base / "data")

    fill_wasmfarm(settings, [*wheels, big])
    static_copy(settings, base / "static")
    big_sha = __import__("hashlib").sha256(big.read_bytes()).hexdigest()
    big_path = f"/files/{big_sha[:2]}/{big_sha}/{big.name}"

    nginx_static_port, nginx_prod_port = free_port(), free_port()
    results: list[Result] = []
    if "others" not in args.skip:  # else only the --baseline comparison
        with ExitStack() as stack:
            wasmfarm_url = stack.enter_context(serve_process(settings.data_dir))
            # The reference gets what the production layout has: a descriptor cache and the precompressed pages.
            servers = f"""
            server {{ listen 127.0.0.1:{nginx_static_port}; root {base / "static"}; index index.html;
                      open_file_cache max=20000 inactive=60s; open_file_cache_valid 1s; gzip_static on; }}
            {
                nginx_config_text(
                    settings.www_dir,
                    settings.blob_dir,
                    f"127.0.0.1:{nginx_prod_port}",
                    wasmfarm_url.rstrip("/"),
                )
            }
            """
            stack.enter_context(nginx(base, servers))
            targets = {
                "nginx static": f"http://127.0.0.1:{nginx_static_port}",
                "wasmfarm (1 process)": wasmfarm_url.rstrip("/"),
                "wasmfarm behind nginx (production layout)": f"http://127.0.0.1:{nginx_prod_port}",
            }
            page_paths = {name: [f"/simple/{n}/" for n in names] for name in targets}
            file_paths = {name: [big_path] for name in targets}
            if not {"pypiserver", "others"} & set(args.skip):
                url = stack.enter_context(pypiserver(base / "wheels"))
                targets["pypiserver"] = url.removesuffix("/simple/")
                page_paths["pypiserver"] = [f"/simple/{n}/" for n in names]
                file_paths["pypiserver"] = [f"/packages/{big.name}"]
            if not {"devpi", "others"} & set(args.skip):
                url = stack.enter_context(devpi(base, [*wheels, big]))
                origin = url.split("/root/")[0]
                targets["devpi-server"] = origin
                page_paths["devpi-server"] = [f"/root/bench/+simple/{n}/" for n in names]
                file_paths["devpi-server"] = [_devpi_file_path(url, "bigwheel")]
            for name, origin in targets.items():
                for paths in (page_paths[name], file_paths[name]):
                    check = httpx.get(origin + paths[0], headers=dict(h.split(": ") for h in CLIENT_HEADERS))
                    check.raise_for_status()
            order = list(targets)
            for round_ in range(args.server_rounds):  # every round visits the servers in a rotated order
                for name in order[round_ % len(order) :] + order[: round_ % len(order)]:
                    origin = targets[name]
                    for kind, paths in (
                        ("project page", page_paths[name]),
                        ("100 KB wheel", file_paths[name]),
                    ):
                        for connections in (16, 64):
                            rps, p99, _requests = wrk(origin, paths, connections, args.seconds, base)
                            results.append(Result(name, kind, connections, rps, p99))
                            print(
                                f"round {round_ + 1} {name:45s} {kind:13s} c={connections:<3d} {rps:10.0f} req/s  "
                                f"p99 {p99:7.2f} ms",
                                flush=True,
                            )
    if results:
        report(results)
    if args.baseline:
        targets = {"project page": [f"/simple/{n}/" for n in names], "100 KB wheel": [big_path]}
        baseline.compare(
            args.baseline,
            base,
            base / "wheels",
            targets,
            lambda url, paths, connections: wrk(url, paths, connections, args.seconds, base),
            args.rounds,
        )
    shutil.rmtree(base, ignore_errors=True)


def _devpi_file_path(simple_url: str, project: str) -> str:
    page = httpx.get(simple_url + project + "/").text
    href = re.search(r'href="([^"#]+)', page).group(1)  # type: ignore[union-attr]
    absolute = httpx.URL(simple_url + project + "/").join(href)
    return absolute.raw_path.decode()


def report(results: list[Result]) -> None:
    """Medians of the rounds with their spread; ratios of medians against nginx static and devpi-server."""
    runs: dict[tuple[str, str, int], list[Result]] = {}
    for r in results:
        runs.setdefault((r.server, r.target, r.connections), []).append(r)
    rps = {key: statistics.median(r.rps for r in found) for key, found in runs.items()}
    print(
        "\nmedians of the rounds [lowest-highest]; ratios against nginx serving the same content as static files:"
    )
    print(f"{'server':45s} {'target':13s} {'conns':>5s} {'req/s':>24s} {'x nginx':>8s} {'p99 ms':>22s}")
    for (server, target, connections), found in runs.items():
        values = [r.rps for r in found]
        p99s = [r.p99_ms for r in found]
        ratio = rps[(server, target, connections)] / rps[("nginx static", target, connections)]
        print(
            f"{server:45s} {target:13s} {connections:5d} "
            f"{statistics.median(values):8.0f} [{min(values):.0f}-{max(values):.0f}] {ratio:8.3f} "
            f"{statistics.median(p99s):7.2f} [{min(p99s):.2f}-{max(p99s):.2f}]"
        )
    if any(server == "devpi-server" for server, _, _ in runs):
        print("\nwasmfarm (1 process) against devpi-server (ratio of medians):")
        for server, target, connections in runs:
            if server == "wasmfarm (1 process)":
                ratio = rps[(server, target, connections)] / rps[("devpi-server", target, connections)]
                print(f"  {target:13s} c={connections:<3d} {ratio:6.2f}x")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
