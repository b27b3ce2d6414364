"""Editor benchmark (prints figures; not a test).

1. Cold start to first output in the editor (a share link that prints) against a bare Pyodide boot that prints, from
   the same server, in one run (target <= 1.2x); a second visit with the service worker warm (target <= 0.5x cold).
2. Requirements through the server's lock against micropip resolving in the runtime (Pyodide under Node), each
   end to end (the lock request included), alternated round by round.
3. Stop to prompt back in a busy loop (target < 200 ms), against the editor's round trip for `pass`.
4. Start-up (issue 14): page load to ready-to-run with the background boot against a bare Pyodide boot of the same
   runtime (target <= 1.1x), and the second visit against the first, which ran nothing (target <= 0.5x); each in
   fresh profiles, alternated round by round.

    make bench-editor      # or: .venv/bin/python -m tests.bench.editor_bench [--rounds 5] [--only startup]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.conftest import CACHE, PYODIDE_VERSION
from tests.support.npm_registry import NpmRegistryServer
from tests.support.server import serve_process, wasmfarm_command
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel

ROOT = Path(__file__).parents[2]


def prepare(base: Path) -> dict[str, str]:
    upstream_dir = base / "upstream"
    upstream_dir.mkdir(parents=True)
    for name in (
        "micropip-0.11.1-py3-none-any.whl",
        "packaging-26.1-py3-none-any.whl",
        "msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
    ):
        shutil.copy(CACHE / "wheels" / name, upstream_dir)
    for i in range(20):  # a small dependency chain, so resolution has something to do
        make_wheel(
            upstream_dir, f"chain{i:02d}", "1.0", requires=[f"chain{i + 1:02d}"] if i < 19 else ["msgpack"]
        )
    env = {"WASMFARM_DATA_DIR": str(base / "data")}
    tarball = CACHE / "npm" / f"pyodide-{PYODIDE_VERSION}.tgz"
    with UpstreamServer(upstream_dir) as upstream, NpmRegistryServer({PYODIDE_VERSION: tarball}) as npm:
        full = {
            **dict(__import__("os").environ),
            **env,
            "WASMFARM_NPM_REGISTRY": npm.url,
            "WASMFARM_UPSTREAM_INDEX": upstream.url,
        }
        subprocess.run(
            [*wasmfarm_command(), "runtime", "add", PYODIDE_VERSION],
            env=full,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [*wasmfarm_command(), "mirror", "chain00"],
            env={**full, "WASMFARM_MIRROR_CONCURRENCY": "4"},
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [*wasmfarm_command(), "mirror", "--deps", "chain00"], env=full, check=True, capture_output=True
        )
    return env


def share_fragment(node: str, code: str) -> str:
    """The editor's own encoder (deflate-raw + base64url), run under Node."""
    script = ROOT / "runner_assets" / "editor" / "src" / "share.js"
    program = (
        f"import {{ encodeState }} from {json.dumps(str(script))};\n"
        f"console.log(await encodeState({json.dumps({'files': {'main.py': code}, 'main': 'main.py', 'requirements': '', 'runtime': PYODIDE_VERSION})}));"
    )
    return subprocess.run(
        [node, "--input-type=module", "-e", program], capture_output=True, text=True, check=True
    ).stdout.strip()


def node_install_timings(node: str, url: str, base: Path, rounds: int) -> dict[str, list[float]]:
    """Seconds from nothing to ``import chain00, msgpack`` done, each path end to end in a fresh Pyodide under Node
    with an empty package cache, alternated round by round: the server's lock (its request, then the boot that loads
    the locked wheels) against micropip (the boot, then micropip resolving and installing from the index)."""
    from tests.e2e.conftest import run_runtime

    runtime_dir = base / "data" / "www" / "pyodide" / PYODIDE_VERSION
    made = [0]

    def run(lock_file: Path | None, packages: list[str], python: str) -> None:
        made[0] += 1
        cache = base / f"cache-{made[0]}"
        cache.mkdir()
        config = {
            "indexURL": str(runtime_dir) + "/",
            "lockFileURL": str(lock_file) if lock_file else None,
            "packageBaseUrl": f"{url}pyodide/{PYODIDE_VERSION}/",
            "packageCacheDir": str(cache),
            "allowedOrigin": url.rstrip("/"),
            "loadPackages": packages,
            "code": python,
        }
        out = run_runtime(node, config, base)
        assert out["ok"], out

    def server_lock() -> None:
        lock = httpx.post(url + f"r/{PYODIDE_VERSION}/lock", json={"requirements": ["chain00"]}).json()
        lock_file = base / f"lock-{made[0]}.json"
        lock_file.write_text(json.dumps(lock))
        run(lock_file, [n for n in lock["packages"] if n != "micropip"], "import chain00, msgpack")

    def micropip() -> None:
        index = f"{url}r/{PYODIDE_VERSION}/simple/"
        run(None, ["micropip"], f"import micropip\nawait micropip.install('chain00', index_urls=['{index}'])\n"
            "import chain00, msgpack")  # fmt: skip

    paths = {"server lock: request + boot + load + import": server_lock,
             "micropip: boot + resolve + install + import": micropip}  # fmt: skip
    timings: dict[str, list[float]] = {label: [] for label in paths}
    for round_ in range(rounds):
        for label in list(paths) if round_ % 2 == 0 else list(paths)[::-1]:
            started = time.perf_counter()
            paths[label]()
            timings[label].append(time.perf_counter() - started)
    return timings


def browser_timings(node: str, script: str, settings: dict[str, object]) -> dict[str, list[float]]:
    """Run ``tests/bench/<script>`` (playwright-core in Debian's Chromium) with ``settings``; its timings by label."""
    with tempfile.TemporaryDirectory(prefix="wasmfarm-editorbench-") as scratch:
        config = Path(scratch) / "config.json"
        playwright = str(CACHE / "node" / "node_modules" / "playwright-core")
        config.write_text(json.dumps({"playwright": playwright, **settings}))
        out = subprocess.run(
            [node, str(ROOT / "tests" / "bench" / script), str(config)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    timings: dict[str, list[float]] = json.loads(out)
    return timings


def stop_timings(node: str, url: str, rounds: int) -> dict[str, list[float]]:
    return browser_timings(node, "stop_timings.mjs", {"editorUrl": f"{url}editor", "rounds": rounds})


def startup_timings(node: str, url: str, rounds: int) -> dict[str, list[float]]:
    smoke = f"{url}runner/smoke.html?runtime={PYODIDE_VERSION}&code=print(1)"
    settings = {"editorUrl": f"{url}editor", "smokeUrl": smoke, "rounds": rounds}
    return browser_timings(node, "startup_timings.mjs", settings)


def spread(values: list[float]) -> str:
    """Median, range and every run, in ms."""
    runs = ", ".join(f"{v:.0f}" for v in values)
    return f"median {statistics.median(values):6.0f} ms [{min(values):.0f}-{max(values):.0f}] (runs: {runs})"


def print_startup(timings: dict[str, list[float]]) -> None:
    bare, first, second = (statistics.median(timings[k]) for k in ("bare", "first", "second"))
    print(f"bare Pyodide boot + print(1), navigation to done (smoke page): {spread(timings['bare'])}")
    print(f"editor, navigation to ready-to-run (background boot, new profile): {spread(timings['first'])}")
    print(f"editor, second visit to ready-to-run (first ran nothing): {spread(timings['second'])}")
    print(f"page load to ready-to-run / bare Pyodide boot: {first / bare:.2f}x (target <= 1.1x)")
    print(f"second visit / first visit, to ready-to-run: {second / first:.2f}x (target <= 0.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=["startup"], help="run only this part")
    args = parser.parse_args()
    node = shutil.which("node")
    assert node, "node is needed"
    base = Path(tempfile.mkdtemp(prefix="wasmfarm-editorbench-"))
    env = prepare(base)
    with serve_process(base / "data", env=env) as url:
        if args.only == "startup":
            print_startup(startup_timings(node, url, args.rounds))
            shutil.rmtree(base, ignore_errors=True)
            return
        fragment = share_fragment(node, "print('first output')\n")
        config = base / "timings.json"
        config.write_text(
            json.dumps(
                {
                    "playwright": str(CACHE / "node" / "node_modules" / "playwright-core"),
                    "editorUrl": f"{url}editor#{fragment}",
                    "smokeUrl": f"{url}runner/smoke.html?runtime={PYODIDE_VERSION}&code=print(1)",
                    "rounds": args.rounds,
                }
            )
        )
        timings = json.loads(
            subprocess.run(
                [node, str(ROOT / "tests" / "bench" / "browser_timings.mjs"), str(config)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        installs = node_install_timings(node, url, base, args.rounds)
        stops = stop_timings(node, url, args.rounds)
        startup = startup_timings(node, url, args.rounds)
    median = {k: statistics.median(v) for k, v in timings.items()}
    for key, values in timings.items():
        print(f"{key:5s}: median {median[key]:6.0f} ms  (runs: {', '.join(f'{v:.0f}' for v in values)})")
    print(
        f"editor cold start to first output / bare Pyodide boot: {median['cold'] / median['bare']:.2f}x (target <= 1.2x)"
    )
    print(
        f"second visit, service worker warm / cold: {median['warm'] / median['cold']:.2f}x (target <= 0.5x)"
    )
    for key, values in installs.items():
        print(
            f"{key}: median {statistics.median(values) * 1000:.0f} ms "
            f"[{min(values) * 1000:.0f}-{max(values) * 1000:.0f}]"
        )
    server, pip = (statistics.median(v) for v in installs.values())
    print(f"server lock / micropip, end to end: {server / pip:.3f}x")
    stop, trivial = statistics.median(stops["stop"]), statistics.median(stops["trivial"])
    print(
        f"Stop to prompt back in a busy loop: median {stop:.0f} ms (target < 200 ms; runs: "
        f"{', '.join(f'{v:.0f}' for v in stops['stop'])}); reference, Run to prompt back for `pass`: "
        f"median {trivial:.0f} ms"
    )
    print_startup(startup)
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
