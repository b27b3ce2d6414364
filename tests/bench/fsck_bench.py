"""fsck throughput: ``wasmfarm fsck``'s file check against ``sha256sum`` over the same stored files, in one run.

A farm is filled with wheels of incompressible content (``--megabytes`` in all); then, alternately, ``sha256sum``
hashes every blob and fsck's file check (``check_files``: every catalog row, its blob re-hashed and its size
compared) runs over the same catalog. Both read from the page cache after the first round (the files fit in memory):
what is compared is hashing and bookkeeping, not the disk. The whole ``fsck`` (pages, orphans, locks as well) is
timed beside them. Prints MB/s as median [min-max] and the ratio of the medians. Not a test: it asserts nothing.

    make bench-fsck            # or: .venv/bin/python -m tests.bench.fsck_bench [--megabytes 400] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from farm.context import Farm
from farm.fsck.check import FsckReport, check_files, run_checks
from farm.settings import Settings
from tests.support.wheels import make_wheel

FILE_MB = 4


def fill(farm: Farm, base: Path, megabytes: int) -> list[Path]:
    for i in range(max(1, megabytes // FILE_MB)):
        wheel = make_wheel(
            base / "wheels", f"blob{i:04d}", "1.0", extra_entries={"data/blob.bin": os.urandom(FILE_MB << 20)}
        )
        with farm.blobs.writer() as writer:
            writer.write(wheel.read_bytes())
            farm.ingestor.ingest(writer, wheel.name, "uploaded")
        wheel.unlink()
    farm.publisher.refresh_stale()
    return sorted(p for p in farm.blobs.root.glob("??/*") if not p.name.endswith(".metadata"))


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.0f} [{min(values):.0f}-{max(values):.0f}]"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--megabytes", type=int, default=400, help="stored content in all")
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wasmfarm-fsck-bench-") as tmp:
        farm = Farm.open(Settings(data_dir=Path(tmp) / "data"))
        blobs = fill(farm, Path(tmp), args.megabytes)
        total = sum(p.stat().st_size for p in blobs)
        print(f"{len(blobs)} stored files, {total / 1e6:.0f} MB; {args.rounds} alternated rounds", flush=True)
        sums: list[float] = []
        checks: list[float] = []
        whole: list[float] = []
        for round_ in range(args.rounds):
            order = ("sha256sum", "fsck") if round_ % 2 == 0 else ("fsck", "sha256sum")
            for label in order:
                started = time.perf_counter()
                if label == "sha256sum":
                    subprocess.run(["sha256sum", *map(str, blobs)], check=True, stdout=subprocess.DEVNULL)
                    sums.append(total / 1e6 / (time.perf_counter() - started))
                else:
                    report = FsckReport()
                    check_files(farm.catalog, farm.blobs, report, lambda _: None)
                    checks.append(report.bytes_hashed / 1e6 / (time.perf_counter() - started))
                    assert report.bytes_hashed == total and not report.findings
            started = time.perf_counter()
            full = run_checks(farm)
            whole.append(total / 1e6 / (time.perf_counter() - started))
            assert full.sound
        ratio = statistics.median(checks) / statistics.median(sums)
        print(f"{'':28s} {'MB/s median [min-max]':>24s}")
        print(f"{'sha256sum':28s} {_spread(sums):>24s}")
        print(f"{'fsck file check':28s} {_spread(checks):>24s}   {ratio:.2f}x sha256sum (target >= 0.8x)")
        print(f"{'fsck, everything':28s} {_spread(whole):>24s}   (pages, orphans, locks too; not alternated)")
        farm.close()


if __name__ == "__main__":
    main()
