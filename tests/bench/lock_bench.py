"""Lockfile and runtime benchmark (prints figures; not a test).

1. Regenerating a runtime's pyodide-lock.json over 1,000 packages after a real change (a new version of one package
   uploaded before each round, untimed), so the lock written differs and its compression and writing are timed
   (target < 0.5 s); the in-memory build alone is printed beside it.
2. Server-side resolution of a 50-package closure among them (target < 1 s).
Each figure: the median of the rounds, the lowest and highest in brackets.
3. Cold boot of Pyodide in Debian's Chromium from wasmfarm against nginx serving the same files as a plain static
   server, alternating, in one run (target <= 1.05x), with the bytes each transferred, compressed and not.

    make bench-lock       # or: .venv/bin/python -m tests.bench.lock_bench [--boots 5]
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

from packaging.requirements import Requirement

from farm.context import Farm
from farm.runtime.locking import lock_requirements
from farm.runtime.npm import NpmRegistry
from farm.settings import Settings
from tests.bench.index_bench import nginx
from tests.conftest import CACHE, PYODIDE_VERSION
from tests.support.npm_registry import NpmRegistryServer
from tests.support.server import free_port, serve_process
from tests.support.wheels import make_wheel

OPEN_PAGE = Path(__file__).parents[1] / "e2e" / "browser" / "open_page.mjs"
SMOKE = Path(__file__).parents[2] / "runner_assets" / "web" / "smoke.html"


def fill(farm: Farm, base: Path, packages: int) -> None:
    """``packages`` projects; pkg0000..pkg0049 form a dependency tree (each depends on the next two)."""
    for i in range(packages):
        requires = [f"pkg{j:04d}>=1" for j in (2 * i + 1, 2 * i + 2) if j < 50] if i < 50 else []
        path = make_wheel(base / "wheels", f"pkg{i:04d}", "1.0", requires=requires)
        with farm.blobs.writer() as writer:
            writer.write(path.read_bytes())
            farm.ingestor.ingest(writer, path.name, "uploaded")
    farm.catalog.mark_all_stale()


def timed(fn, repeat: int = 5, setup=lambda: None) -> list[float]:  # type: ignore[no-untyped-def]
    """Seconds of each of ``repeat`` calls of ``fn``, ``setup`` (untimed) before each."""
    samples = []
    for _ in range(repeat):
        setup()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms [{min(samples) * 1000:.0f}-{max(samples) * 1000:.0f}]"


def new_version(farm: Farm, base: Path, counter: list[int]) -> None:
    """Upload a new version of one locked package: the next refresh writes a lock that differs."""
    counter[0] += 1
    path = make_wheel(base / "changes", "pkg0999", f"1.{counter[0]}")
    with farm.blobs.writer() as writer:
        writer.write(path.read_bytes())
        farm.ingestor.ingest(writer, path.name, "uploaded")


def boot(node: str, url: str, base: Path, accept_encoding: str | None = None) -> tuple[float, int]:
    config = base / "page.json"
    options = {
        "playwright": str(CACHE / "node" / "node_modules" / "playwright-core"),
        "url": url,
        "timeoutMs": 120000,
    }
    if accept_encoding:
        options["acceptEncoding"] = accept_encoding
    config.write_text(json.dumps(options))
    out = json.loads(
        subprocess.run([node, str(OPEN_PAGE), str(config)], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    assert out.get("result", {}).get("ok"), out
    return float(out["result"]["bootMs"]), int(out["bytes"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--boots", type=int, default=5, help="cold boots per server")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="wasmfarm-lockbench-"))
    base.chmod(0o755)
    port = free_port()
    settings = Settings(data_dir=base / "data", port=port)
    farm = Farm.open(settings)
    with NpmRegistryServer({PYODIDE_VERSION: CACHE / "npm" / f"pyodide-{PYODIDE_VERSION}.tgz"}) as npm:
        registry = NpmRegistry(npm.url)
        farm.runtimes.add(PYODIDE_VERSION, registry)
        registry.close()
    for wheel in (
        "micropip-0.11.1-py3-none-any.whl",
        "msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
    ):
        with farm.blobs.writer() as writer:
            writer.write((CACHE / "wheels" / wheel).read_bytes())
            farm.ingestor.ingest(writer, wheel, "mirrored")
    fill(farm, base, 1000)

    counter = [0]
    lock_path = settings.www_dir / "pyodide" / PYODIDE_VERSION / "pyodide-lock.json"
    farm.locks.refresh([PYODIDE_VERSION])
    before = lock_path.read_bytes()
    refresh = timed(
        lambda: farm.locks.refresh([PYODIDE_VERSION]), setup=lambda: new_version(farm, base, counter)
    )
    assert lock_path.read_bytes() != before, "the timed refreshes wrote no new lock"
    build = timed(lambda: farm.locks.build(PYODIDE_VERSION), setup=lambda: new_version(farm, base, counter))
    packages = len(farm.locks.build(PYODIDE_VERSION).lock["packages"])
    resolve = timed(lambda: lock_requirements([Requirement("pkg0000")], PYODIDE_VERSION, farm.locks))
    closure = len(lock_requirements([Requirement("pkg0000")], PYODIDE_VERSION, farm.locks)[0]["packages"])
    print(
        f"lock regeneration after a new version, {packages} packages ({len(refresh)} rounds): build + validate + "
        f"link + compress + write {ms(refresh)} (target < 500 ms); the build alone {ms(build)}"
    )
    print(
        f"server-side lock of a {closure}-package closure (50 resolved + micropip) among {packages} "
        f"({len(resolve)} rounds): {ms(resolve)} (target < 1000 ms)"
    )
    farm.publisher.refresh_stale()
    farm.close()

    node = shutil.which("node")
    if node is None or not Path("/usr/bin/chromium").exists() or shutil.which("nginx") is None:
        print("boot comparison skipped: needs node, /usr/bin/chromium and nginx (make bench installs them)")
        return
    static = base / "static"
    shutil.copytree(
        settings.www_dir / "pyodide",
        static / "pyodide",
        symlinks=False,
        ignore=shutil.ignore_patterns("*.gz", "*.br"),
    )
    (static / "runner").mkdir()
    shutil.copy(SMOKE, static / "runner" / "smoke.html")
    static_port = free_port()
    servers = (
        f"types {{ application/wasm wasm; text/javascript mjs; "
        f"application/zip whl; }}\n"
        f"server {{ listen 127.0.0.1:{static_port}; root {static}; }}"
    )
    query = f"runner/smoke.html?runtime={PYODIDE_VERSION}&packages=msgpack&code=import%20msgpack"
    with nginx(base, servers), serve_process(settings.data_dir, env={"WASMFARM_PORT": str(port)}) as url:
        targets = {
            "wasmfarm": (url + query, None),
            "wasmfarm, identity": (url + query, "identity"),  # separates brotli decoding from serving
            "nginx static": (f"http://127.0.0.1:{static_port}/{query}", None),
        }
        times: dict[str, list[float]] = {name: [] for name in targets}
        sizes: dict[str, int] = {}
        order = list(targets)
        for round_ in range(args.boots):
            for name in order[round_ % len(order) :] + order[: round_ % len(order)]:  # rotate: no order bias
                target, encoding = targets[name]
                elapsed, transferred = boot(node, target, base, accept_encoding=encoding)
                times[name].append(elapsed)
                sizes[name] = transferred
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(
            f"cold boot in Chromium from {name:18s}: median {medians[name]:6.0f} ms "
            f"[{min(values):.0f}-{max(values):.0f}] (runs: {', '.join(f'{v:.0f}' for v in values)}), "
            f"{sizes[name] / 1e6:.1f} MB transferred"
        )
    print(
        f"wasmfarm / plain static boot time: {medians['wasmfarm'] / medians['nginx static']:.3f}x (target <= 1.05x)"
    )
    print(
        f"wasmfarm without compression / plain static: "
        f"{medians['wasmfarm, identity'] / medians['nginx static']:.2f}x"
    )
    print(
        f"bytes from wasmfarm: {sizes['wasmfarm'] / 1e6:.1f} MB compressed (br), "
        f"{sizes['wasmfarm, identity'] / 1e6:.1f} MB with Accept-Encoding: identity"
    )
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
