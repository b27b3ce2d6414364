"""Deciding a verdict for a requirement on a runtime, from what this mirror holds, what upstream offers and a real
run in Pyodide.

1. The version judged: the newest one the requirement takes that this mirror can install on the runtime; else the
   newest one upstream has a wheel for; else the newest one there is.
2. A mirrored wheel whose closure this mirror holds is *tried* (``farm.compat.trial``): installed with micropip into
   a fresh Pyodide, dependencies from the farm's own index, every top-level module imported: *works*, or *fails*
   with the traceback's last line.
3. A wheel (or a dependency) only upstream: *available upstream*, with the closure and what is missing.
4. No wheel the runtime installs: the sdist is looked into (``farm.compat.probe``): *buildable* (C, C++, Cython or
   pure Python), or *fails* for want of a toolchain (Rust, Fortran); a build of its recipe that failed or runs is
   part of the evidence. No sdist either: *fails*, naming what the wheels there are were built for.

Every verdict has an input key: the sha256 of all it was decided from (the runtime, the closure's wheel hashes, the
files upstream lists for the project, the build of its recipe, ``PROCEDURE``). A check whose key is kept is answered
from the store; a new upstream file, another runtime or a rebuilt dependency makes a new key and a new check.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from farm.compat import judge
from farm.compat.closure import MergedSource
from farm.compat.probe import probe_upstream_sdist
from farm.compat.store import CheckStore
from farm.compat.trial import TrialItem, TrialResult, Trials
from farm.compat.verdict import PROCEDURE, BuildRef, Code, Evidence, Status, Verdict
from farm.dist.archive import ArchiveLimits
from farm.dist.requirement import applies
from farm.dist.wheel import top_level_names
from farm.errors import InvalidDistribution, ResolutionImpossible, UpstreamUnavailable
from farm.mirror.offer import Shortfall, Unmet, platforms, sdists, unmet, usable_versions, versions_of
from farm.mirror.resolver import Candidate, resolve
from farm.mirror.upstream import UpstreamFile, UpstreamIndex, UpstreamProject
from farm.runtime.locking import CatalogSource
from farm.runtime.target import RuntimeTarget, target_for
from farm.store.blobs import BlobStore
from farm.store.catalog import Catalog

MAX_DEPTH = 3  # how far a failing dependency's own verdict is followed


class BuildLookup(Protocol):
    """What the oracle asks of the build farm (``farm.compat.requests.RecipeBuilds``)."""

    def recipe(self, project: str) -> str | None: ...

    def latest(self, project: str, version: str, runtime: str) -> BuildRef | None: ...


@dataclass(frozen=True)
class Pending:
    """A check that needs a trial in Pyodide; ``finish`` turns the trial's result into the verdict."""

    item: TrialItem
    finish: Callable[[TrialResult], Verdict]


def input_key(**inputs: Any) -> str:
    document = json.dumps(
        {"procedure": PROCEDURE, **inputs}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(document.encode()).hexdigest()


class Oracle:
    def __init__(
        self,
        *,
        catalog: Catalog,
        blobs: BlobStore,
        limits: ArchiveLimits,
        upstream: UpstreamIndex | None,
        store: CheckStore,
        trials: Trials,
        builds: BuildLookup | None = None,
    ) -> None:
        self.catalog = catalog
        self.blobs = blobs
        self.limits = limits
        self.upstream = upstream
        self.store = store
        self.trials = trials
        self.builds = builds

    def check(
        self,
        requirements: Sequence[Requirement],
        runtimes: Sequence[str],
        *,
        on_verdict: Callable[[Verdict], None] = lambda _: None,
        batch_size: int = 20,
    ) -> list[Verdict]:
        """A verdict for each requirement on each runtime (in that order). Trials run together, ``batch_size`` per
        Pyodide boot; kept checks with the same inputs are answered without one."""
        targets = [target_for(r) for r in runtimes]
        source = MergedSource(CatalogSource.of_catalog(self.catalog), self.upstream, self.blobs, self.limits)
        results: list[Verdict | None] = []
        pending: dict[str, list[tuple[int, Pending]]] = {}
        for requirement in requirements:
            for target in targets:
                outcome = self._decide(requirement, target, source, 0)
                if isinstance(outcome, Pending):
                    pending.setdefault(target.version, []).append((len(results), outcome))
                    results.append(None)
                else:
                    results.append(outcome)
                    on_verdict(outcome)
        for runtime, waiting in pending.items():
            for start in range(0, len(waiting), batch_size):
                chunk = waiting[start : start + batch_size]
                tried = self.trials.run(runtime, [p.item for _, p in chunk])
                for (index, item), result in zip(chunk, tried, strict=True):
                    verdict = self._keep(item.finish(result))
                    results[index] = verdict
                    on_verdict(verdict)
        return [v for v in results if v is not None]

    # Deciding ---------------------------------------------------------------------------------------------------

    def _decide(
        self, requirement: Requirement, target: RuntimeTarget, source: MergedSource, depth: int
    ) -> Verdict | Pending:
        name = canonicalize_name(requirement.name)
        base = judge.Subject(str(requirement), name, None, target.version)
        environment = {**target.marker_environment, "extra": ""}
        if not applies(requirement.marker, environment):
            return judge.not_applicable(base)
        try:
            upstream_page = source.upstream_project(name)
            page = source.project(name)
        except UpstreamUnavailable as exc:
            return judge.unknown(base, str(exc))
        seen = sorted(f.filename for f in upstream_page.files) if upstream_page else None
        shortfall = unmet(requirement, page, target, source.label)
        if shortfall is None:
            assert page is not None
            return self._installable(requirement, target, source, page, seen, depth)
        if shortfall.code is Shortfall.ONLY_SDIST and page is not None and shortfall.version is not None:
            files = versions_of(page)[shortfall.version]
            return self._from_sdist(base.at(str(shortfall.version)), target, source, sdists(files)[0], seen)
        key = input_key(
            kind="offer", runtime=target.version, requirement=str(requirement.specifier), code=shortfall.code,
            upstream=seen, mirrored=sorted(f.filename for f in page.files) if page else None,
        )  # fmt: skip
        return self._kept(key) or self._keep(self._shortfall(base, shortfall, page, target, key))

    def _shortfall(
        self,
        base: judge.Subject,
        shortfall: Unmet,
        page: UpstreamProject | None,
        target: RuntimeTarget,
        key: str,
    ) -> Verdict:
        version = str(shortfall.version) if shortfall.version is not None else None
        found = versions_of(page).get(shortfall.version, []) if page and shortfall.version else []
        evidence = Evidence(platforms=tuple(platforms(found, target)))
        return judge.fails(base.at(version), Code(shortfall.code.value), shortfall.text, evidence, key)

    def _installable(
        self,
        requirement: Requirement,
        target: RuntimeTarget,
        source: MergedSource,
        page: UpstreamProject,
        seen: list[str] | None,
        depth: int,
    ) -> Verdict | Pending:
        name = canonicalize_name(requirement.name)
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        newest = max(usable_versions(requirement, page, target))
        local = source.local.project(name)
        mirrored = usable_versions(requirement, local, target) if local is not None else {}
        if mirrored:
            version = max(mirrored)
            root = Requirement(f"{name}{extras}=={version}")
            try:
                closure = resolve([root], source.local, target, source.local.requires_dist)
            except ResolutionImpossible:
                pass  # a dependency is not mirrored: see what upstream adds
            else:
                newer = str(newest) if newest > version else None
                return self._trial(requirement, target, source, closure, seen, newer)
        root = Requirement(f"{name}{extras}=={newest}")
        base = judge.Subject(str(requirement), name, str(newest), target.version)
        try:
            closure = resolve([root], source, target, source.requires_dist)
        except ResolutionImpossible as exc:
            return self._dependency(base, target, source, exc, seen, depth)
        except UpstreamUnavailable as exc:
            return judge.unknown(base, str(exc))
        evidence = judge.closure_evidence(closure, name, source, target)
        key = input_key(
            kind="available", runtime=target.version, upstream=seen, closure=judge.files_of(evidence)
        )
        return self._kept(key) or self._keep(judge.available(base, evidence, key))

    def _trial(
        self,
        requirement: Requirement,
        target: RuntimeTarget,
        source: MergedSource,
        closure: Sequence[Candidate],
        seen: list[str] | None,
        newer: str | None,
    ) -> Verdict | Pending:
        name = canonicalize_name(requirement.name)
        root = next(c for c in closure if c.name == name)
        row = source.row(root.files[0].filename)
        assert row is not None
        base = judge.Subject(str(requirement), name, str(root.version), target.version)
        evidence = judge.closure_evidence(closure, name, source, target)
        evidence = dataclasses.replace(evidence, newer_upstream=newer)
        imports = self._imports(row.filename, row.sha256, row.import_names)
        key = input_key(
            kind="trial",
            runtime=target.version,
            closure=judge.files_of(evidence),
            upstream=seen,
            imports=imports,
        )
        kept = self._kept(key)
        if kept is not None:
            return kept
        item = TrialItem(self.blobs.path_for(row.sha256), row.filename, imports)
        return Pending(item, lambda result: judge.tried(base, evidence, imports, result, key))

    def _imports(self, filename: str, sha256: str, stored: str | None) -> tuple[str, ...]:
        names = json.loads(stored) if stored else []
        if not names:
            with zipfile.ZipFile(self.blobs.path_for(sha256)) as archive:
                names = list(top_level_names(archive.namelist()))
        return tuple(str(n) for n in names)

    def _dependency(
        self,
        base: judge.Subject,
        target: RuntimeTarget,
        source: MergedSource,
        exc: ResolutionImpossible,
        seen: list[str] | None,
        depth: int,
    ) -> Verdict:
        """The closure cannot be resolved: the first unsatisfiable dependency's own verdict says why."""
        for text, parent in exc.unsatisfied:
            dependency = Requirement(text)
            if canonicalize_name(dependency.name) == base.project or depth >= MAX_DEPTH:
                continue
            outcome = self._decide(dependency, target, source, depth + 1)
            if isinstance(outcome, Pending) or outcome.status in (Status.WORKS, Status.AVAILABLE):
                continue  # resolvable alone: it conflicts with another requirement
            key = input_key(
                kind="dependency", runtime=target.version, upstream=seen, dependency=outcome.input_key
            )
            return self._kept(key) or self._keep(
                judge.dependency(base, dependency, parent, outcome, str(exc), key)
            )
        key = input_key(kind="conflict", runtime=target.version, upstream=seen, explanation=str(exc))
        return self._kept(key) or self._keep(judge.conflict(base, str(exc), key))

    def _from_sdist(
        self,
        base: judge.Subject,
        target: RuntimeTarget,
        source: MergedSource,
        sdist: UpstreamFile,
        seen: list[str] | None,
    ) -> Verdict:
        assert base.version is not None
        recipe = self.builds.recipe(base.project) if self.builds else None
        build = self.builds.latest(base.project, base.version, target.version) if self.builds else None
        key = input_key(
            kind="sdist", runtime=target.version, upstream=seen, sdist=[sdist.filename, sdist.sha256],
            recipe=recipe, build=[build.id, build.state] if build else None,
        )  # fmt: skip
        kept = self._kept(key)
        if kept is not None:
            return kept
        try:
            report = self._probe(sdist)
        except UpstreamUnavailable as exc:
            return judge.unknown(base, str(exc))
        except InvalidDistribution as exc:
            evidence = Evidence(sdist=source.file_ref(sdist), detail=str(exc))
            reason = f"its sdist {sdist.filename} cannot be read safely: {exc}"
            return self._keep(judge.fails(base, Code.UNREADABLE_SDIST, reason, evidence, key))
        return self._keep(judge.from_sdist(base, source.file_ref(sdist), report, recipe, build, key))

    def _probe(self, sdist: UpstreamFile) -> Any:
        if self.upstream is None:
            raise UpstreamUnavailable(f"{sdist.filename}: no upstream index to read the sdist from")
        return probe_upstream_sdist(self.upstream, self.blobs, sdist, self.limits)

    # Keeping ----------------------------------------------------------------------------------------------------

    def _kept(self, key: str) -> Verdict | None:
        return self.store.find(key)

    def _keep(self, verdict: Verdict) -> Verdict:
        return (
            self.store.add(verdict)
            if verdict.status.kept and verdict.code is not Code.NOT_APPLICABLE
            else verdict
        )
