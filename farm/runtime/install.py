"""Installing a runtime end to end: the npm package, the wheels it needs to boot micropip, its generated lock."""

from __future__ import annotations

import logging

from packaging.requirements import Requirement

from farm.context import Farm
from farm.mirror.mirror import Mirror, MirrorReport, Progress
from farm.mirror.upstream import UpstreamIndex
from farm.runtime.manifest import InstalledRuntime
from farm.runtime.npm import NpmRegistry
from farm.runtime.publish import essential_requirements
from farm.runtime.target import target_for

log = logging.getLogger(__name__)


def install_runtime(
    farm: Farm, version: str, progress: Progress | None = None
) -> tuple[InstalledRuntime, MirrorReport]:
    """Fetch and verify ``pyodide@version``, mirror micropip and what it needs, regenerate the lock."""
    settings = farm.settings
    registry = NpmRegistry(settings.npm_registry, timeout=settings.http_timeout)
    try:
        installed = farm.runtimes.add(version, registry)
    finally:
        registry.close()
    upstream = UpstreamIndex(settings.upstream_index, timeout=settings.http_timeout)
    try:
        job = Mirror(farm, upstream, [target_for(version)])
        wanted = [Requirement(r) for r in essential_requirements(farm.runtimes.upstream_lock(version))]
        report = job.run(job.plan_projects(wanted, all_versions=False), progress or Progress())
    finally:
        upstream.close()
    farm.locks.refresh([version])
    if report.errors:
        log.warning("runtime %s: essential wheels missing: %s", version, "; ".join(report.errors))
    return installed, report
