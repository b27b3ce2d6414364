"""Editor benchmark (prints figures; not a test).

1. Cold start to first output in the editor (a share link that prints) against a bare Pyodide boot that prints, from
   the same server, in one run (target <= 1.2x); a second visit with the service worker warm (target <= 0.5x cold).
2. Requirements through the server's lock against micropip resolving in the runtime (Pyodide under Node).

    make bench-editor      # or: .venv/bin/python -m tests.bench.editor_bench [--rounds 5]
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


def node_install_timings(node: str, url: str, base: Path) -> dict[str, float]:
    from tests.e2e.conftest import run_runtime

    runtime_dir = base / "data" / "www" / "pyodide" / PYODIDE_VERSION
    timings: dict[str, float] = {}
    started = time.perf_counter()
    lock = httpx.post(url + f"r/{PYODIDE_VERSION}/lock", json={"requirements": ["chain00"]}).json()
    timings["server lock request"] = time.perf_counter() - started
    (base / "lock.json").write_text(json.dumps(lock))
    code = "import time\ntime.perf_counter()"
    names = [n for n in lock["packages"] if n != "micropip"]
    for label, packages, lock_file, python in (
        ("load the server lock", names, base / "lock.json", "import chain00, msgpack"),
        (
            "micropip resolves and installs",
            ["micropip"],
            None,
            f"import micropip\nawait micropip.install('chain00', index_urls=['{url}r/{PYODIDE_VERSION}/simple/'])\n"
            "import chain00, msgpack",
        ),
    ):
        cache = base / f"cache-{len(timings)}"
        cache.mkdir()
        config = {
            "indexURL": str(runtime_dir) + "/",
            "lockFileURL": str(lock_file) if lock_file else None,
            "packageBaseUrl": f"{url}pyodide/{PYODIDE_VERSION}/",
            "packageCacheDir": str(cache),
            "allowedOrigin": url.rstrip("/"),
            "loadPackages": packages,
            "code": f"import time\n_t = time.perf_counter()\n{python}\ntime.perf_counter() - _t",
        }
        started = time.perf_counter()
        out = run_runtime(node, config, base)
        assert out["ok"], out
        timings[label] = time.perf_counter() - started
        timings[label + " (python part)"] = float(out["result"])
    _ = code
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    node = shutil.which("node")
    assert node, "node is needed"
    base = Path(tempfile.mkdtemp(prefix="wasmfarm-editorbench-"))
    env = prepare(base)
    with serve_process(base / "data", env=env) as url:
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
        installs = node_install_timings(node, url, base)
    median = {k: statistics.median(v) for k, v in timings.items()}
    for key, values in timings.items():
        print(f"{key:5s}: median {median[key]:6.0f} ms  (runs: {', '.join(f'{v:.0f}' for v in values)})")
    print(
        f"editor cold start to first output / bare Pyodide boot: {median['cold'] / median['bare']:.2f}x (target <= 1.2x)"
    )
    print(
        f"second visit, service worker warm / cold: {median['warm'] / median['cold']:.2f}x (target <= 0.5x)"
    )
    for key, value in installs.items():
        print(f"{key}: {value * 1000:.0f} ms")
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
