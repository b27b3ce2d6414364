"""The admin action behind an *available upstream* verdict: mirror the requirement's closure for the verdict's
runtime (``farm.mirror.mirror``), so that the next check tries it in Pyodide."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from packaging.requirements import Requirement

from farm.compat.verdict import Status, Verdict
from farm.mirror.mirror import Mirror, MirrorReport, PlannedFile, Progress
from farm.runtime.target import RuntimeTarget, target_for


def wants_mirroring(verdict: Verdict) -> bool:
    """Upstream has something for it that this mirror lacks: a wheel, a dependency, or a newer version."""
    return verdict.status is Status.AVAILABLE or (
        verdict.works and verdict.evidence.newer_upstream is not None
    )


def mirror_available(
    verdicts: Sequence[Verdict],
    mirror_for: Callable[[Sequence[RuntimeTarget]], Mirror],
    progress: Progress,
    concurrency: int = 4,
) -> MirrorReport | None:
    """Mirror the closure of every verdict that ``wants_mirroring``, resolved for its own runtime; None when there
    is nothing to mirror. ``mirror_for(targets)`` makes the mirror job."""
    by_runtime: dict[str, list[Requirement]] = {}
    for verdict in verdicts:
        if wants_mirroring(verdict):
            by_runtime.setdefault(verdict.runtime, []).append(Requirement(verdict.requirement))
    if not by_runtime:
        return None
    planned: dict[str, PlannedFile] = {}
    job: Mirror | None = None
    for runtime, requirements in by_runtime.items():
        job = mirror_for([target_for(runtime)])
        planned.update((p.file.filename, p) for p in job.plan_closure(requirements))
    assert job is not None
    return job.run(list(planned.values()), progress, concurrency)
