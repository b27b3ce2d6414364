"""Scientific-stack build benchmark (prints figures; not a test). The Pillow chain (zlib, libjpeg-turbo and FreeType
as static libraries, then Pillow against them), built by `wasmfarm build pillow` on this machine (`build_jobs=2`),
three ways in one run, each in a new farm on loopback servers, like the tests:

1. cold: an empty build cache, so every recipe is compiled;
2. warm: a copy of the cache the cold farm left, nothing changed: every build is a cache hit (copied and checked,
   and Pillow verified in Pyodide again; not compiled);
3. changed: a copy of the same cache, with one more flag in FreeType's cmake line: FreeType and Pillow (which links
   it) are compiled again, zlib and libjpeg-turbo are hits.

The warm and changed farms alternate for --repeat rounds (each round starts from its own copy of the cold cache);
the cold farm runs once. Per recipe: compiled or reused, and the seconds of its build step when compiled. Per
farm: the wall time of `wasmfarm build pillow` (verification included), and its ratio to the cold run. Last, the
build-step seconds that the shared test cache ($WASMFARM_CACHE/built) recorded when it compiled each entry it holds
(the rest of the stack: numpy, pandas, matplotlib, lxml, shapely and their libraries).

    make bench-stack      # or: .venv/bin/python -m tests.bench.stack_bench [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from farm.build.artifacts import ArtifactCache
from tests.conftest import CACHE
from tests.e2e.buildfarm import BuildFarmEnv, Loopback, loopback_servers, new_farm

CHAIN = ["zlib", "libjpeg-turbo", "freetype", "pillow"]
FLAG = "-DFT_DISABLE_BROTLI=TRUE"


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} s [{min(values):.1f}-{max(values):.1f}]"


def build_chain(
    base: Path, servers: Loopback, cache: Path, *, change_freetype: bool = False
) -> tuple[float, dict[str, tuple[bool, float]]]:
    farm = new_farm(base, servers, build_cache_dir=str(cache))
    if change_freetype:
        meta = farm.recipes / "freetype" / "meta.yaml"
        text = meta.read_text()
        if f"{FLAG}\n" not in text:
            raise SystemExit(f"{meta}: no {FLAG} line to add a flag to")
        meta.write_text(text.replace(f"{FLAG}\n", f"{FLAG} -DFT_DEBUG_LEVEL_ERROR=ON\n"))
    started = time.perf_counter()
    result = farm.run("build", "pillow", timeout=3600)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"wasmfarm build pillow failed:\n{result.stderr[-3000:]}")
    return wall, _per_recipe(farm)


def _per_recipe(farm: BuildFarmEnv) -> dict[str, tuple[bool, float]]:
    """recipe -> (compiled, seconds of its build step)."""
    out: dict[str, tuple[bool, float]] = {}
    for build in farm.builds():
        checks = json.loads(str(build["checks"]))
        timings = json.loads(str(build["timings"]))
        out[str(build["recipe"])] = ("build_cache" not in checks, float(timings.get("build", 0.0)))
    missing = set(CHAIN) - set(out)
    if missing:
        raise SystemExit(f"no build of {sorted(missing)} in the farm")
    return out


def report(label: str, walls: list[float], rounds: list[dict[str, tuple[bool, float]]], cold: float) -> None:
    print(
        f"{label}: `wasmfarm build pillow` {spread(walls)}, {statistics.median(walls) / cold:.3f}x the cold run"
    )
    for name in CHAIN:
        steps = [seconds for compiled, seconds in (r[name] for r in rounds) if compiled]
        if not steps:  # a hit has no build step: the artifact is copied in and checked
            print(f"  {name:<14} reused")
            continue
        what = (
            "compiled" if len(steps) == len(rounds) else f"compiled in {len(steps)} of {len(rounds)} rounds"
        )
        print(f"  {name:<14} {what:<9} build step {spread(steps)}")


def recorded_stack() -> None:
    cache = CACHE / "built"
    if not cache.is_dir():
        print("\nthe shared test cache holds no build yet (run tests/e2e/test_scientific_stack.py first)")
        return
    print(f"\nbuild steps recorded in {cache} when each was compiled (`build_jobs=2`):")
    store = ArtifactCache(cache)
    for entry in sorted(p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found = store.lookup(entry.name, lambda _line: None)
        if found is not None:
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(found.built_at))
            print(f"  {found.artifact.name:<72} {found.build_seconds:7.1f} s  ({when})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wasmfarm-stack-bench-") as scratch:
        root = Path(scratch)
        upstream = root / "upstream"
        with loopback_servers(upstream, CACHE / "wheels") as servers:
            cold_cache = root / "cold-cache"
            cold_wall, cold = build_chain(root / "cold", servers, cold_cache)
            report("cold (empty cache)", [cold_wall], [cold], cold_wall)
            warm_walls: list[float] = []
            changed_walls: list[float] = []
            warm_rounds: list[dict[str, tuple[bool, float]]] = []
            changed_rounds: list[dict[str, tuple[bool, float]]] = []
            for round_ in range(args.repeat):
                for label in ("warm", "changed"):
                    cache = root / f"{label}-cache-{round_}"
                    shutil.copytree(cold_cache, cache)
                    wall, per = build_chain(
                        root / f"{label}-{round_}", servers, cache, change_freetype=label == "changed"
                    )
                    (warm_walls if label == "warm" else changed_walls).append(wall)
                    (warm_rounds if label == "warm" else changed_rounds).append(per)
            report("warm (nothing changed)", warm_walls, warm_rounds, cold_wall)
            report(
                "changed (one more flag in FreeType's cmake line)", changed_walls, changed_rounds, cold_wall
            )
    recorded_stack()


if __name__ == "__main__":
    main()
