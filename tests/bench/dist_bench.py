"""Import of a Pyodide release archive in MB/s against ``tar -x`` + ``sha256sum`` over the same archive, in one run.

An archive in the release's layout (``pyodide/pyodide-lock.json`` and the wheels it lists, of incompressible
content, ``--megabytes`` in all; bz2 like a real release unless ``--compression``) is made once in a temporary
directory, and Pyodide 314.0.7 installed once from the cached npm package (a loopback registry). Then, alternately:

- A, the import: ``import_distribution`` (the archive streamed, every file hashed and checked against the lock, each
  wheel's archive and RECORD checked, blobs and catalog rows published, the distribution recorded) followed by the
  page and lock refresh ``wasmfarm runtime add --distribution`` does, into a fresh copy of the installed data
  directory each round;
- B, the reference: ``tar -xf`` of the same archive into an empty directory, then ``sha256sum`` of every extracted
  file (what an operator would do by hand to check the files against the lock).

MB/s are of the archive's unpacked content; medians with [min-max] and the ratio of the medians (target >= 0.7x).
Not a test: it asserts only that each import verified every file.

    make bench-dist            # or: .venv/bin/python -m tests.bench.dist_bench [--megabytes 150] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from farm.context import Farm
from farm.runtime.npm import NpmRegistry
from farm.runtime.release import import_distribution
from farm.settings import Settings
from tests.conftest import CACHE, PYODIDE_VERSION
from tests.support.distribution import Locked, make_release, npm_info
from tests.support.npm_registry import NpmRegistryServer
from tests.support.wheels import make_wheel

WHEEL_MB = 2


def make_archive(base: Path, megabytes: int, compression: str, info: dict[str, object]) -> tuple[Path, int]:
    files = []
    for i in range(max(1, megabytes // WHEEL_MB)):
        wheel = make_wheel(
            base / "wheels",
            f"bench{i:04d}",
            "1.0",
            extra_entries={"data/blob.bin": os.urandom(WHEEL_MB << 20)},
        )
        files.append(Locked(wheel, f"bench{i:04d}", "1.0", imports=[f"bench{i:04d}"]))
    suffix = {"bz2": ".tar.bz2", "gz": ".tar.gz", "": ".tar"}[compression]
    archive = make_release(
        base / f"pyodide-{PYODIDE_VERSION}{suffix}", None, files, info=info, compression=compression
    )
    unpacked = sum(f.path.stat().st_size for f in files)
    shutil.rmtree(base / "wheels")
    return archive, unpacked


def install_template(base: Path) -> Path:
    """A data directory with Pyodide 314.0.7 installed from the cached npm package (no micropip: not needed)."""
    data = base / "template"
    tarball = CACHE / "npm" / f"pyodide-{PYODIDE_VERSION}.tgz"
    with NpmRegistryServer({PYODIDE_VERSION: tarball}) as npm:
        farm = Farm.open(Settings(data_dir=data))
        registry = NpmRegistry(npm.url)
        farm.runtimes.add(PYODIDE_VERSION, registry)
        registry.close()
        farm.locks.refresh()
        farm.close()
    return data


def run_import(template: Path, target: Path, archive: Path, files: int) -> tuple[float, float]:
    """Seconds of the import alone, and with the page and lock refresh."""
    shutil.copytree(template, target, symlinks=True)
    farm = Farm.open(Settings(data_dir=target))
    started = time.perf_counter()
    report = import_distribution(
        str(archive), PYODIDE_VERSION, expected_sha256=None, runtimes=farm.runtimes, ingestor=farm.ingestor,
        blobs=farm.blobs,
    )  # fmt: skip
    imported = time.perf_counter() - started
    farm.publisher.refresh([f.split("-", 1)[0] for f in report.wheels_added])
    farm.locks.refresh([PYODIDE_VERSION])
    whole = time.perf_counter() - started
    assert report.verified == files and len(report.wheels_added) == files, report
    farm.close()
    shutil.rmtree(target)
    return imported, whole


def run_reference(archive: Path, target: Path) -> float:
    target.mkdir()
    started = time.perf_counter()
    subprocess.run(["tar", "-xf", str(archive), "-C", str(target)], check=True)
    extracted = sorted(str(p) for p in target.rglob("*") if p.is_file())
    subprocess.run(["sha256sum", *extracted], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    shutil.rmtree(target)
    return seconds


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.1f} [{min(values):.1f}-{max(values):.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--megabytes", type=int, default=150, help="unpacked content of the archive")
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds")
    parser.add_argument("--compression", choices=["bz2", "gz", ""], default="bz2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wasmfarm-dist-bench-") as tmp:
        base = Path(tmp)
        pyodide_lock_dir = base / "npm"
        subprocess.run(
            ["tar", "-xzf", str(CACHE / "npm" / f"pyodide-{PYODIDE_VERSION}.tgz"), "-C", str(base),
             "package/pyodide-lock.json"],
            check=True,
        )  # fmt: skip
        (base / "package").rename(pyodide_lock_dir)
        started = time.perf_counter()
        archive, unpacked = make_archive(base, args.megabytes, args.compression, npm_info(pyodide_lock_dir))
        files = max(1, args.megabytes // WHEEL_MB)
        print(
            f"archive {archive.name}: {files} wheels, {unpacked / 1e6:.0f} MB unpacked, "
            f"{archive.stat().st_size / 1e6:.0f} MB packed (made in {time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        template = install_template(base)
        imports: list[float] = []
        wholes: list[float] = []
        references: list[float] = []
        loads = []
        for round_ in range(args.rounds):
            order = ("reference", "import") if round_ % 2 == 0 else ("import", "reference")
            for label in order:
                if label == "reference":
                    references.append(unpacked / 1e6 / run_reference(archive, base / "extracted"))
                else:
                    imported, whole = run_import(template, base / "data", archive, files)
                    imports.append(unpacked / 1e6 / imported)
                    wholes.append(unpacked / 1e6 / whole)
            loads.append(os.getloadavg()[0])
            print(
                f"  round {round_ + 1}: import {imports[-1]:.1f} MB/s, reference {references[-1]:.1f} MB/s",
                flush=True,
            )
        ratio = statistics.median(imports) / statistics.median(references)
        whole_ratio = statistics.median(wholes) / statistics.median(references)
        print(f"{'':34s} {'MB/s median [min-max]':>24s}")
        print(f"{'tar -x + sha256sum':34s} {_spread(references):>24s}")
        print(
            f"{'import (verify, publish, record)':34s} {_spread(imports):>24s}   {ratio:.2f}x the reference (target >= 0.7x)"
        )
        print(f"{'import + pages + lock':34s} {_spread(wholes):>24s}   {whole_ratio:.2f}x the reference")
        print(
            f"load average (1 min) during the rounds: {min(loads):.2f}-{max(loads):.2f}; {os.cpu_count()} cores"
        )


if __name__ == "__main__":
    main()
