"""A no-op re-mirror against one upstream listing of the same projects (issue 15: "13.4 s for 9 projects").

A loopback upstream (``tests.support.upstream``) plays 9 projects the way PyPI lists them: a few with thousands of
files (every platform of every version, some yanked), of which a runtime installs one or two wheels of the newest
version; only those exist as real wheels, the rest are listed and never downloaded. The 9 are mirrored once
(untimed); then, alternately (A B, B A, ...):

- A, "one upstream listing": the 9 project pages fetched and parsed as the mirror's upstream client does
  (``farm.mirror.upstream.UpstreamIndex.project``, a new client each round), in this process;
- B, "no-op ``wasmfarm mirror``": the real command, ``.venv/bin/wasmfarm --data-dir D mirror --upstream U <9 names>``,
  as a subprocess, timed from spawn to exit (nothing new upstream: it downloads nothing and writes nothing);
- B', the same command in this process (``click``'s runner over the same ``mirror`` function): B without the
  interpreter start and imports.

The interpreter start (``wasmfarm --version``) is timed beside them and printed, never subtracted. Prints medians
with [min-max] and B/A against the target (<= 1.5x). Not a test: it asserts only that B was a no-op.

    make bench-mirror          # or: .venv/bin/python -m tests.bench.mirror_bench [--rounds 7] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from farm.cli.main import cli
from farm.mirror.upstream import UpstreamIndex
from tests.support.upstream import UpstreamServer, listed_entry
from tests.support.wheels import make_wheel

# (project, files listed upstream, what its newest version requires): shaped after PyPI's pydantic-core, numpy, ...
PROJECTS: list[tuple[str, int, list[str]]] = [
    ("pydantic-core", 15_000, ["typing-extensions>=0.9"]),
    ("big-numeric", 8_000, []),
    ("crypto-bindings", 4_000, ["cffi-like>=0.9"]),
    ("cffi-like", 2_000, []),
    ("orjson-like", 1_500, []),
    ("yaml-like", 600, []),
    ("typing-extensions", 120, []),
    ("attrs-like", 60, []),
    ("tiny", 8, []),
]
VERSIONS = 250
PLATFORMS = [
    f"{py}-{py}-{plat}"
    for py in ("cp39", "cp310", "cp311", "cp312", "cp313", "cp314")
    for plat in (
        "manylinux_2_17_x86_64.manylinux2014_x86_64",
        "manylinux_2_17_aarch64.manylinux2014_aarch64",
        "musllinux_1_1_x86_64",
        "musllinux_1_1_aarch64",
        "macosx_10_12_x86_64",
        "macosx_11_0_arm64",
        "win_amd64",
        "win32",
        "win_arm64",
        "manylinux_2_17_i686.manylinux2014_i686",
        "manylinux_2_17_ppc64le.manylinux2014_ppc64le",
        "manylinux_2_17_s390x.manylinux2014_s390x",
    )
]


def listed_files(project: str, count: int) -> list[dict[str, object]]:
    """``count`` page entries of older versions and other platforms (and their sdists), newest version excluded."""
    dist = project.replace("-", "_")
    entries: list[dict[str, object]] = []
    for version in range(VERSIONS, 0, -1):
        entries.append(listed_entry(f"{dist}-0.{version}.tar.gz", requires_python=">=3.9"))
        for platform in PLATFORMS:
            if len(entries) >= count:
                return entries
            entries.append(listed_entry(f"{dist}-0.{version}-{platform}.whl", requires_python=">=3.9"))
    return entries[:count]


def make_upstream(root: Path, scale: float) -> tuple[UpstreamServer, list[str]]:
    """The 9 projects: the newest version a real pure wheel (pydantic-core also a real Pyodide 314 wheel), the rest
    listed only; every 40th listed file yanked."""
    wheels = root / "files"
    server = UpstreamServer(wheels)
    server.state.cache_pages = True  # as PyPI's CDN: the upstream's rendering stays out of A and B
    for project, count, requires in PROJECTS:
        make_wheel(wheels, project, "1.0", requires=requires)
        if project == "pydantic-core":
            make_wheel(
                wheels, project, "1.0", tag="cp314-cp314-pyemscripten_2026_0_wasm32", requires=requires
            )
        listed = listed_files(project, max(0, int(count * scale) - 1))
        server.state.listed[project] = listed
        for entry in listed[::40]:
            server.state.yanked[str(entry["filename"])] = "broken build"
    return server, [p for p, _, _ in PROJECTS]


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.0f} [{min(values) * 1000:.0f}-{max(values) * 1000:.0f}]"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7, help="alternated rounds (at least 5)")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiplies the number of files listed upstream"
    )
    args = parser.parse_args()
    wasmfarm = str(Path(sys.executable).with_name("wasmfarm"))
    with tempfile.TemporaryDirectory(prefix="wasmfarm-mirror-bench-") as tmp:
        server, names = make_upstream(Path(tmp), args.scale)
        data_dir = Path(tmp) / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("WASMFARM_")}
        env["XDG_CONFIG_HOME"] = str(Path(tmp) / "xdg")
        with server:
            command = [wasmfarm, "--data-dir", str(data_dir), "mirror", "--upstream", server.url, *names]
            first = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if first.returncode != 0:
                raise SystemExit(f"the first mirror failed:\n{first.stderr[-3000:]}")
            index = UpstreamIndex(server.url)
            listed = sum(len(page.files) for page in map(index.project, names) if page is not None)
            index.close()
            print(
                f"9 projects, {listed} files listed upstream; first mirror: {first.stderr.strip().splitlines()[-1]}"
            )
            print(
                f"{args.rounds} alternated rounds; B = subprocess `{Path(wasmfarm).name} ... mirror <9 names>`"
            )

            def listing() -> None:
                index = UpstreamIndex(server.url)
                try:
                    for name in names:
                        index.project(name)
                finally:
                    index.close()

            def noop() -> None:
                done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
                if (
                    done.returncode != 0
                    or " 0 downloaded" not in done.stderr
                    or "0 yank changes" not in done.stderr
                ):
                    raise SystemExit(f"the re-mirror was not a no-op:\n{done.stderr[-3000:]}")

            runner = CliRunner()

            def noop_in_process() -> None:
                result = runner.invoke(cli, command[1:], env=env, catch_exceptions=False)
                if result.exit_code != 0 or " 0 downloaded" not in result.stderr:
                    raise SystemExit(f"the in-process re-mirror was not a no-op:\n{result.stderr[-3000:]}")

            def start() -> None:
                subprocess.run([wasmfarm, "--version"], env=env, capture_output=True, check=True)

            cases: dict[str, Callable[[], None]] = {
                "A  one upstream listing": listing,
                "B  no-op wasmfarm mirror": noop,
                "B' the same, in-process": noop_in_process,
                "   interpreter start": start,
            }
            times: dict[str, list[float]] = {label: [] for label in cases}
            for round_ in range(args.rounds):
                order = list(cases) if round_ % 2 == 0 else list(reversed(cases))
                for label in order:
                    started = time.perf_counter()
                    cases[label]()
                    times[label].append(time.perf_counter() - started)
        a = statistics.median(times["A  one upstream listing"])
        print(f"{'':28s} {'ms median [min-max]':>22s}")
        for label, values in times.items():
            note = ""
            if label.startswith("B"):
                note = f"   {statistics.median(values) / a:.2f}x A (target <= 1.5x)"
            elif "interpreter" in label:
                note = "   (`wasmfarm --version`: part of B, not subtracted)"
            print(f"{label:28s} {_spread(values):>22s}{note}")


if __name__ == "__main__":
    main()
