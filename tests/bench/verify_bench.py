"""Verification benchmark (prints figures; not a test).

1. Cost per wheel: ``verify()`` of one wheel (a dependency from the farm's index), import check only, against a bare
   micropip install + import of the same wheel in Pyodide under Node (no sandbox, no farm code), in one run,
   alternated (target <= 1.3x); ``verify()`` with a one-test pytest-pyodide file is reported beside it (no target:
   pytest-pyodide boots a runtime of its own).
2. A batch of 10 wheels through ``verify_many`` (one sandbox, one boot, a Pyodide per wheel from a memory snapshot)
   against 10 separate ``verify()`` calls (target >= 3x faster).

Each figure is the wall-clock time of exactly what its label says, from starting the work to having its result;
medians of the rounds with the lowest and highest round in brackets.

    make bench-verify      # or: .venv/bin/python -m tests.bench.verify_bench [--rounds 5] [--batch-rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from farm.build.verify import VerifyItem, serve_farm, verify, verify_many
from farm.context import Farm
from farm.runtime.install import install_runtime
from farm.settings import Settings
from farm.store.blobs import BlobStore
from tests.conftest import CACHE, PYODIDE_VERSION
from tests.support.npm_registry import NpmRegistryServer
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel

ROOT = Path(__file__).parents[2]
RUNNER_ASSETS = ROOT / "runner_assets"

BARE = """
import { readFileSync } from "node:fs";
const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { loadPyodide } = await import(config.pyodideDir + "/pyodide.mjs");
const pyodide = await loadPyodide({ indexURL: config.pyodideDir + "/", packageCacheDir: config.pyodideDir,
                                    packageBaseUrl: config.packageBaseUrl, stdout: () => {}, stderr: () => {} });
await pyodide.loadPackage("micropip", { messageCallback: () => {} });
pyodide.FS.writeFile("/tmp/" + config.name, readFileSync(config.wheel));
await pyodide.runPythonAsync(`
import micropip
micropip.set_index_urls(["${config.index}"])
await micropip.install("emfs:/tmp/${config.name}")
import ${config.module}
`);
process.stdout.write("ok\\n");
"""

ONE_TEST = """
from pytest_pyodide import run_in_pyodide


@run_in_pyodide(packages=["greet"])
def test_hello(selenium):
    import greet

    assert greet.hello() == "hello teal"
"""


def prepare(base: Path) -> tuple[Settings, Path]:
    upstream = base / "upstream"
    upstream.mkdir(parents=True)
    for name in ("micropip-0.11.1-py3-none-any.whl", "packaging-26.1-py3-none-any.whl"):
        shutil.copy(CACHE / "wheels" / name, upstream)
    dependency = make_wheel(base / "index", "colorname", "2.1", module_source="NAME = 'teal'\n")
    tarball = CACHE / "npm" / f"pyodide-{PYODIDE_VERSION}.tgz"
    with UpstreamServer(upstream) as up, NpmRegistryServer({PYODIDE_VERSION: tarball}) as npm:
        settings = Settings(data_dir=base / "data", npm_registry=npm.url, upstream_index=up.url)
        farm = Farm.open(settings)
        install_runtime(farm, PYODIDE_VERSION)
    with farm.blobs.writer() as writer:
        writer.write(dependency.read_bytes())
        farm.ingestor.ingest(writer, dependency.name, "uploaded")
    farm.publisher.refresh_stale()
    farm.close()
    wheels = base / "wheels"
    source = "from colorname import NAME\ndef hello():\n    return f'hello {NAME}'\n"
    make_wheel(wheels, "greet", "1.0", requires=["colorname"], module_source=source)
    for i in range(10):
        make_wheel(wheels, f"batch{i:02d}", "1.0", requires=["colorname"], module_source=source)
    (base / "recipe").mkdir()
    (base / "recipe" / "test_greet.py").write_text(ONE_TEST)
    return settings, wheels


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s [{min(values):.2f}-{max(values):.2f}]"


def alternate(rounds: int, runs: dict[str, Callable[[], object]]) -> dict[str, list[float]]:
    """Each label's wall-clock seconds per round, the order reversed every other round (A B, B A, ...)."""
    samples: dict[str, list[float]] = {label: [] for label in runs}
    labels = list(runs)
    for round_ in range(rounds):
        for label in labels if round_ % 2 == 0 else labels[::-1]:
            started = time.perf_counter()
            runs[label]()
            samples[label].append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the per-wheel comparison")
    parser.add_argument("--batch-rounds", type=int, default=3, help="rounds of the batch comparison")
    args = parser.parse_args()
    node = shutil.which("node")
    assert node, "node is needed"
    base = Path(tempfile.mkdtemp(prefix="wasmfarm-verifybench-"))
    settings, wheels = prepare(base)
    blobs = BlobStore(settings.blob_dir)
    common = {
        "runtime": PYODIDE_VERSION,
        "www": settings.www_dir,
        "blobs": blobs,
        "runner_assets": RUNNER_ASSETS,
    }
    greet = wheels / "greet-1.0-py3-none-any.whl"
    runtime_dir = settings.www_dir / "pyodide" / PYODIDE_VERSION
    script = base / "bare.mjs"
    script.write_text(BARE)

    def checked(result: object) -> None:
        results = result if isinstance(result, list) else [result]
        assert all(r.ok for r in results), [r.report for r in results]

    with serve_farm(settings.www_dir, blobs) as url:
        bare_config = base / "bare.json"
        bare_config.write_text(
            json.dumps(
                {
                    "pyodideDir": str(runtime_dir),
                    "packageBaseUrl": f"{url}pyodide/{PYODIDE_VERSION}/",
                    "index": f"{url}r/{PYODIDE_VERSION}/simple/",
                    "wheel": str(greet),
                    "name": greet.name,
                    "module": "greet",
                }
            )
        )

        def bare() -> None:
            out = subprocess.run(
                [node, str(script), str(bare_config)], capture_output=True, text=True, check=False
            )
            assert out.stdout.strip() == "ok", out.stderr[-2000:]

        per_wheel = alternate(
            args.rounds,
            {
                "bare micropip install + import under Node": bare,
                "verify(), import check only": lambda: checked(
                    verify(greet, imports=["greet"], test_files=[], **common)
                ),
                "verify(), import check + one-test pytest file": lambda: checked(
                    verify(greet, imports=["greet"], test_files=[base / "recipe" / "test_greet.py"], **common)
                ),
            },
        )
    batch = sorted(wheels.glob("batch*.whl"))
    items = [VerifyItem(w, [w.name.split("-")[0]]) for w in batch]
    batched = alternate(
        args.batch_rounds,
        {
            "10 separate verify() calls": lambda: [
                checked(verify(i.wheel, imports=i.imports, test_files=[], **common)) for i in items
            ],
            "verify_many() of the 10": lambda: checked(verify_many(items, **common)),
        },
    )

    print(f"\nverification of one wheel (medians of {args.rounds} alternated rounds, [lowest-highest]):")
    bare_median = statistics.median(per_wheel["bare micropip install + import under Node"])
    for label, values in per_wheel.items():
        print(f"  {label:48s} {spread(values)}   {statistics.median(values) / bare_median:5.2f}x bare")
    print("  target: import check only <= 1.3x bare")
    print(f"\na batch of 10 wheels (medians of {args.batch_rounds} alternated rounds):")
    for label, values in batched.items():
        print(f"  {label:48s} {spread(values)}")
    speedup = statistics.median(batched["10 separate verify() calls"]) / statistics.median(
        batched["verify_many() of the 10"]
    )
    print(f"  verify_many() is {speedup:.2f}x faster than 10 verify() calls (target >= 3x)")
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
