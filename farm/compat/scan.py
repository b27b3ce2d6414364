"""Batch scans: a list of requirements checked on the runtimes, in batches that share a Pyodide boot, every
verdict kept as it comes (an interrupted scan run again answers what it did from the store and goes on).

Safe to run from a command, a thread or a job: it reports through ``ScanProgress`` and keeps nothing else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from packaging.requirements import Requirement

from farm.compat.oracle import Oracle
from farm.compat.verdict import Verdict


class ScanProgress:
    """What a scan tells its caller as it goes (the CLI draws a progress bar)."""

    def start(self, total: int) -> None: ...

    def advance(self, verdict: Verdict) -> None: ...


@dataclass
class ScanReport:
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """status -> how many checks."""
        return dict(Counter(v.status.value for v in self.verdicts))

    @property
    def from_store(self) -> int:
        return sum(v.from_store for v in self.verdicts)

    @property
    def ran(self) -> int:
        return sum(v.ran for v in self.verdicts)


def scan(
    oracle: Oracle,
    requirements: Sequence[Requirement],
    runtimes: Sequence[str],
    progress: ScanProgress,
    batch_size: int = 20,
) -> ScanReport:
    report = ScanReport()
    progress.start(len(requirements) * len(runtimes))
    for start in range(0, len(requirements), batch_size):
        chunk = requirements[start : start + batch_size]
        report.verdicts += oracle.check(chunk, runtimes, on_verdict=progress.advance, batch_size=batch_size)
    return report
