"""Build farm benchmark (prints figures; not a test). Uses the builder image, sdists and build wheels that
`make test` caches (ci/builder-assets.sh), and loopback servers for everything else, like the tests.

1. No-op ``wasmfarm build --changed`` over 200 generated recipes, all built already (target < 5 s), against
   ``wasmfarm recipes lint`` of the same recipes (parsing them is the floor).
2. Farm overhead per build: the farm's build step (source, requirements, sandboxed ``pyodide build``, checks) against
   the same ``pyodide build`` run directly in the same bubblewrap sandbox of the same image on the same source with
   the same wheelhouse (target <= 1.10x; the direct build needs the farm's unpacked source, so it follows the farm's
   in each round). What a farm build costs with its verification in Pyodide is printed beside it, against the same
   direct build.
3. Throughput of two ``wasmfarm worker`` processes against one (Redis + PostgreSQL) on six recipes, the order of the
   two alternated round by round (target >= 1.7x).
Figures: medians of the rounds, the lowest and highest in brackets; ratios to three decimals, never rounded up to a
target.

    make bench-build      # or: .venv/bin/python -m tests.bench.build_bench [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import redis

from farm.build import sandbox
from farm.build.image import BuilderStore
from farm.build.key import all_keys
from farm.build.state import BuildStates
from farm.context import Farm
from farm.recipe.loader import load_recipes
from farm.settings import Settings
from farm.store.models import BuildState
from tests.conftest import CACHE, PG_ADMIN, PYODIDE_VERSION, _create_pg_database, _drop_pg_database
from tests.e2e.buildfarm import BuildFarmEnv, loopback_servers, new_farm
from tests.support.server import wasmfarm_command

SIX = ["markupsafe", "mmh3", "crc32c", "immutables", "pyahocorasick", "ujson"]


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s [{min(values):.2f}-{max(values):.2f}]"


def timed(env: BuildFarmEnv, *args: str) -> float:
    started = time.perf_counter()
    result = env.run(*args)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"wasmfarm {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return elapsed


def noop_changed(base: Path, servers: object, repeat: int) -> None:
    env = new_farm(base, servers)  # type: ignore[arg-type]
    generated = base / "generated"
    generated.mkdir()
    for i in range(200):
        directory = generated / f"gen{i:03d}"
        (directory / "src").mkdir(parents=True)
        (directory / "src" / "gen.c").write_text(f"int gen{i} = {i};\n")
        needs = f"requirements:\n  host:\n    - gen{i - 1:03d}\n" if i % 10 else ""
        (directory / "meta.yaml").write_text(
            f"package:\n  name: gen{i:03d}\n  version: 1.0.{i}\nsource:\n  path: src\n{needs}"
            "test:\n  imports:\n    - gen\n"
        )
    recipes, problems = load_recipes(generated)
    assert not problems and len(recipes) == 200
    settings = Settings(data_dir=env.data_dir)
    farm = Farm.open(settings)
    image = BuilderStore(CACHE / "builders").for_runtime(PYODIDE_VERSION)
    states = BuildStates(farm.engine, 60)
    for name, key in all_keys(recipes, image.identity, PYODIDE_VERSION).items():  # as if built before
        row = states.create(name, "1", PYODIDE_VERSION, key, image.identity)
        assert row.id is not None
        states.finish(row.id, BuildState.SUCCEEDED)
    farm.close()
    lint: list[float] = []
    changed: list[float] = []
    for round_ in range(repeat):  # alternated: the order flips every round
        runs = [
            lambda: lint.append(timed(env, "recipes", "lint", str(generated))),
            lambda: changed.append(timed(env, "build", "--changed", "--recipes-dir", str(generated))),
        ]
        for run in runs if round_ % 2 == 0 else runs[::-1]:
            run()
    print(
        f"1. no-op build --changed, 200 recipes: {spread(changed)} (target < 5 s); "
        f"recipes lint of the same: {spread(lint)} "
        f"({statistics.median(changed) / statistics.median(lint):.3f}x)"
    )


def overhead(base: Path, servers: object, recipe: str, repeat: int) -> None:
    env = new_farm(base, servers)  # type: ignore[arg-type]
    image = BuilderStore(CACHE / "builders").for_runtime(PYODIDE_VERSION)
    farm_steps, compiles, verifies, direct = [], [], [], []
    for _ in range(repeat):
        before = {b["id"] for b in env.builds()}
        timed(env, "build", recipe, "--force")
        [row] = [b for b in env.builds() if b["id"] not in before]
        steps = json.loads(str(row["timings"]))
        farm_steps.append(sum(steps[s] for s in ("prepare", "requirements", "build", "check")))
        compiles.append(steps["build"])
        verifies.append(steps["verify"])
        # The same pyodide build, by hand, in the same sandbox, on the same unpacked source and wheelhouse.
        work = env.data_dir / "builds" / str(row["id"])
        shutil.rmtree(work / "out", ignore_errors=True)
        src = work / "direct-src"
        shutil.rmtree(src, ignore_errors=True)
        shutil.copytree(
            work / "src", src, symlinks=True, ignore=shutil.ignore_patterns(".pyodide_build", "build")
        )
        argv = ["/opt/pyodide-build/bin/pyodide", "build", "/work/direct-src", "--outdir", "/work/out"]
        variables = {
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": "/work/wheelhouse",
            "SOURCE_DATE_EPOCH": "315532800",
        }
        cmd = sandbox.command_line(
            image.rootfs, [*argv, "--exports", "pyinit"], mounts=[sandbox.Mount(work, "/work", writable=True)],
            cwd="/work/direct-src", env={**image.build_env(), **variables},
        )  # fmt: skip
        started = time.perf_counter()
        outcome = sandbox.run(cmd, lambda _line: None, sandbox.Limits())
        direct.append(time.perf_counter() - started)
        assert outcome.returncode == 0, outcome.tail
    whole = [f + v for f, v in zip(farm_steps, verifies, strict=True)]
    f, d, w = (statistics.median(x) for x in (farm_steps, direct, whole))
    print(
        f"2. {recipe} ({repeat} rounds): farm build step {spread(farm_steps)} (of which the sandboxed pyodide build "
        f"{spread(compiles)}) vs pyodide build directly {spread(direct)}: {f / d:.3f}x (target <= 1.10x); with "
        f"the verification in Pyodide under Node ({spread(verifies)}), what a farm build costs: {spread(whole)}, "
        f"{w / d:.3f}x the direct build"
    )


def throughput(base: Path, servers: object, repeat: int) -> None:
    """Each round: a fresh farm (PostgreSQL database, Redis queue) per worker count, the same six recipes. Six
    builds of uneven length over two workers make single rounds noisy (1.57x to 1.92x seen), hence rounds and the
    median of the per-round ratios."""
    rounds: list[dict[int, float]] = []
    for round_ in range(repeat):
        results = {}
        for workers in (1, 2) if round_ % 2 == 0 else (2, 1):  # alternated: neither always runs first
            results[workers] = _six_with_workers(base / f"r{round_}-w{workers}", servers, workers)
        rounds.append(results)
        print(f"   round {round_ + 1}: one worker {results[1]:.1f} s, two workers {results[2]:.1f} s")
    ratios = sorted(r[1] / r[2] for r in rounds)
    one = statistics.median(r[1] for r in rounds)
    two = statistics.median(r[2] for r in rounds)
    print(
        f"3. six recipes: one worker {one:.1f} s, two workers {two:.1f} s (medians of {repeat} rounds): "
        f"{statistics.median(ratios):.3f}x the throughput, rounds {ratios[0]:.3f}x to {ratios[-1]:.3f}x "
        f"(target >= 1.7x on 2 cores: {'met' if statistics.median(ratios) >= 1.7 else 'not met'})"
    )


def _six_with_workers(base: Path, servers: object, workers: int) -> float:
    name, url = _create_pg_database(PG_ADMIN)
    db = 1 + uuid.uuid4().int % 14
    client = redis.Redis.from_url(f"redis://127.0.0.1:6379/{db}")
    client.flushdb()
    try:
        env = new_farm(
            base,
            servers,  # type: ignore[arg-type]
            database_url=url,
            broker_url=f"redis://127.0.0.1:6379/{db}",
        )
        procs = [
            subprocess.Popen([*wasmfarm_command(), "worker"], env=env.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
            for _ in range(workers)
        ]  # fmt: skip
        try:
            time.sleep(2)
            return timed(env, "build", *SIX)
        finally:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 15)
                proc.wait(30)
    finally:
        client.flushdb()
        _drop_pg_database(PG_ADMIN, name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wasmfarm-build-bench-") as tmp:
        base = Path(tmp)
        with loopback_servers(base / "upstream", CACHE / "wheels") as servers:
            noop_changed(base / "noop", servers, args.repeat)
            for recipe in ("markupsafe", "kiwisolver"):
                overhead(base / f"overhead-{recipe}", servers, recipe, args.repeat)
            throughput(base / "throughput", servers, args.repeat)


if __name__ == "__main__":
    main()
