"""Resolving a requirement closure for one runtime with resolvelib, against an upstream index.

Candidates are versions that have a wheel the runtime installs (sdists cannot be installed by micropip); markers are
evaluated in the runtime's environment (``sys_platform == "emscripten"``, its Python version, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version
from resolvelib import AbstractProvider, BaseReporter, Resolver
from resolvelib.resolvers import ResolutionImpossible as _Impossible
from resolvelib.resolvers import ResolutionTooDeep

from farm.dist.requirement import applies, unusable
from farm.errors import ResolutionImpossible
from farm.mirror.offer import installable_versions, unmet
from farm.mirror.upstream import UpstreamFile, UpstreamProject
from farm.runtime.target import RuntimeTarget

MetadataFetcher = Callable[[UpstreamFile], Sequence[str]]  # a wheel's Requires-Dist


class ProjectSource(Protocol):
    """Where candidates come from: an upstream index (mirroring) or the mirror's own catalog (server-side locks)."""

    label: str  # "the upstream index", "this mirror": used in explanations

    def project(self, name: str) -> UpstreamProject | None: ...


@dataclass(frozen=True)
class Candidate:
    name: NormalizedName
    version: Version
    extras: frozenset[str]
    files: tuple[UpstreamFile, ...]  # the version's files this runtime installs, best first

    def __str__(self) -> str:
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        return f"{self.name}{extras}=={self.version}"


def _identifier(name: str, extras: Iterable[str]) -> str:
    extras = sorted(extras)
    return f"{canonicalize_name(name)}[{','.join(extras)}]" if extras else canonicalize_name(name)


def allowed_versions(requirements: Iterable[Requirement], versions: Iterable[Version]) -> set[Version]:
    """The versions every requirement allows, as pip chooses them (``SpecifierSet.filter``, PEP 440): a pre-release
    only when a specifier names one or when nothing else matches (``httpx`` must not bring ``1.0.dev6``)."""
    allowed = list(versions)
    for requirement in requirements:
        allowed = list(requirement.specifier.filter(allowed))
    return set(allowed)


class RuntimeProvider(AbstractProvider[Requirement, Candidate, str]):
    def __init__(
        self, upstream: ProjectSource, target: RuntimeTarget, requires_dist: MetadataFetcher
    ) -> None:
        self.upstream = upstream
        self.target = target
        self.requires_dist = requires_dist
        self.environment = target.marker_environment

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        return _identifier(requirement_or_candidate.name, requirement_or_candidate.extras)

    def get_preference(
        self, identifier: str, resolutions: Any, candidates: Any, information: Any, backtrack_causes: Any
    ) -> Any:
        return sum(1 for _ in candidates[identifier])

    def find_matches(
        self, identifier: str, requirements: Mapping[str, Iterator[Requirement]], incompatibilities: Any
    ) -> list[Candidate]:
        reqs = list(requirements[identifier])
        bad = {c.version for c in incompatibilities[identifier]}
        name = (
            canonicalize_name(reqs[0].name) if reqs else NormalizedName(identifier.split("[", maxsplit=1)[0])
        )
        extras = frozenset().union(*(r.extras for r in reqs)) if reqs else frozenset()
        project = self.upstream.project(name)
        if project is None:
            return []
        found = []
        installable = installable_versions(project, self.target)
        allowed = allowed_versions(reqs, installable)
        for version, files in installable.items():
            if version in bad or version not in allowed:
                continue
            pinned = any(any(s.operator in ("==", "===") for s in r.specifier) for r in reqs)
            usable = tuple(f for f in files if pinned or not f.yanked)
            if usable:
                found.append(Candidate(name, version, frozenset(extras), usable))
        return sorted(found, key=lambda c: c.version, reverse=True)

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        return bool(
            canonicalize_name(requirement.name) == candidate.name
            and requirement.specifier.contains(candidate.version, prereleases=True)
        )

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        deps: list[Requirement] = []
        if candidate.extras:
            deps.append(Requirement(f"{candidate.name}=={candidate.version}"))
        for line in self.requires_dist(candidate.files[0]):
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                continue  # refused at ingest since; a row stored before is read as pip reads it, without it
            if unusable(requirement) is not None:
                continue  # the same: a marker or specifier nothing can evaluate, refused at ingest since
            if requirement.marker is not None:
                extras = candidate.extras or {""}
                if not any(applies(requirement.marker, {**self.environment, "extra": e}) for e in extras):
                    continue
            elif candidate.extras:
                continue  # unconditional dependencies belong to the base candidate
            requirement.marker = None
            deps.append(requirement)
        return deps


def resolve(
    requirements: Sequence[Requirement],
    upstream: ProjectSource,
    target: RuntimeTarget,
    requires_dist: MetadataFetcher,
) -> list[Candidate]:
    """The closure of ``requirements`` for a runtime: one candidate per project (extras folded in)."""
    applicable = [r for r in requirements if applies(r.marker, {**target.marker_environment, "extra": ""})]
    provider = RuntimeProvider(upstream, target, requires_dist)
    try:
        result = Resolver(provider, BaseReporter()).resolve(applicable, max_rounds=2000)
    except _Impossible as exc:
        unsatisfied = tuple(
            (str(c.requirement), None if c.parent is None else str(c.parent)) for c in exc.causes
        )
        raise ResolutionImpossible(explain(exc.causes, upstream, target), unsatisfied) from None
    except ResolutionTooDeep as exc:
        raise ResolutionImpossible(
            f"resolution for Pyodide {target.version} gave up after {exc} rounds"
        ) from None
    chosen: dict[NormalizedName, Candidate] = {}
    for candidate in result.mapping.values():
        chosen.setdefault(candidate.name, candidate)
    return sorted(chosen.values(), key=lambda c: c.name)


def explain(causes: Collection[Any], upstream: ProjectSource, target: RuntimeTarget) -> str:
    """Name each failing requirement, the chain that led to it, and why it fails on this runtime."""
    lines = [f"cannot resolve the requirements for Pyodide {target.version} (Python {target.python}):"]
    for cause in causes:
        requirement: Requirement = cause.requirement
        chain = f"required by {cause.parent}" if cause.parent is not None else "requested directly"
        lines.append(f"  - {requirement} ({chain}): {why(requirement, upstream, target)}")
    return "\n".join(lines)


def why(requirement: Requirement, upstream: ProjectSource, target: RuntimeTarget) -> str:
    found = unmet(requirement, upstream.project(requirement.name), target, upstream.label)
    return found.text if found is not None else "version conflict with another requirement of the set"
