"""The rules that turn what the oracle found into a verdict, with its reason in words. Pure: no I/O."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from packaging.requirements import Requirement

from farm.compat.closure import MergedSource, nodes
from farm.compat.probe import SHOWN, SourceReport
from farm.compat.trial import TrialResult
from farm.compat.verdict import BuildRef, Code, Evidence, FileRef, Status, Verdict
from farm.mirror.resolver import Candidate
from farm.runtime.target import RuntimeTarget

TRACEBACK_LINES = 8  # of a failed import, kept in the evidence


@dataclass(frozen=True)
class Subject:
    """What is being judged: a requirement's project, at a version, on a runtime."""

    requirement: str
    project: str
    version: str | None
    runtime: str
    started: float = field(default_factory=time.monotonic)

    def at(self, version: str | None) -> Subject:
        return dataclasses.replace(self, version=version)

    def verdict(
        self, status: Status, code: Code, reason: str, evidence: Evidence, key: str, *, ran: bool = False
    ) -> Verdict:
        return Verdict(
            requirement=self.requirement,
            project=self.project,
            version=self.version,
            runtime=self.runtime,
            status=status,
            code=code,
            reason=reason,
            evidence=evidence,
            input_key=key,
            seconds=round(time.monotonic() - self.started, 3),
            ran=ran,
        )


def and_list(names: Sequence[str]) -> str:
    items = list(names)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"


def _tail(text: str, count: int = TRACEBACK_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-count:])


def not_applicable(subject: Subject) -> Verdict:
    reason = f"its marker excludes Pyodide {subject.runtime}: there is nothing to install"
    return subject.verdict(Status.WORKS, Code.NOT_APPLICABLE, reason, Evidence(), "")


def unknown(subject: Subject, why: str) -> Verdict:
    return subject.verdict(
        Status.UNKNOWN, Code.UNAVAILABLE, f"could not be checked now: {why}", Evidence(), ""
    )


def fails(subject: Subject, code: Code, reason: str, evidence: Evidence, key: str) -> Verdict:
    return subject.verdict(Status.FAILS, code, reason, evidence, key)


def closure_evidence(
    closure: Sequence[Candidate], root: str, source: MergedSource, target: RuntimeTarget
) -> Evidence:
    found = nodes(closure, root, source, target)
    wheel = source.file_ref(next(c for c in closure if c.name == root).files[0])
    return Evidence(wheel=wheel, closure=found, missing=tuple(n.name for n in found if not n.mirrored))


def files_of(evidence: Evidence) -> list[list[str | bool | None]]:
    """The closure's files as an input of the key (a rebuilt or newly mirrored one changes it)."""
    return [[n.filename, n.sha256, n.mirrored] for n in evidence.closure]


def available(subject: Subject, evidence: Evidence, key: str) -> Verdict:
    assert evidence.wheel is not None
    missing = list(evidence.missing)
    verb = "is" if len(missing) == 1 else "are"
    action = f"`wasmfarm check --mirror {subject.requirement}` mirrors and checks it"
    if evidence.wheel.origin == "upstream":
        code = Code.WHEEL_UPSTREAM
        reason = f"{evidence.wheel.filename} is upstream, not mirrored: works if {and_list(missing)} {verb} mirrored"
    else:
        code = Code.DEPENDENCIES_UPSTREAM
        pronoun = "it is" if len(missing) == 1 else "they are"
        reason = f"mirrored, but {and_list(missing)} {verb} only upstream: works if {pronoun} mirrored"
    return subject.verdict(Status.AVAILABLE, code, f"{reason} ({action})", evidence, key)


def tried(
    subject: Subject, evidence: Evidence, imports: Sequence[str], result: TrialResult, key: str
) -> Verdict:
    """The verdict of a trial in Pyodide."""
    evidence = dataclasses.replace(evidence, installed=result.installed, log=result.log)
    runtime = f"Pyodide {subject.runtime}"

    def judged(status: Status, code: Code, reason: str, found: Evidence) -> Verdict:
        return dataclasses.replace(
            subject.verdict(status, code, reason, found, key, ran=True), seconds=result.seconds
        )

    if result.crashed:
        return unknown(subject, result.error or "the verifier crashed")
    if result.error:
        found = dataclasses.replace(evidence, detail=result.error)
        reason = f"it does not install in {runtime}: {_last_line(result.error)}"
        return judged(Status.FAILS, Code.INSTALL_FAILED, reason, found)
    failed = {m: _tail(t) for m, t in result.imports.items() if t != "ok"}
    shown = {m: ("ok" if t == "ok" else _tail(t)) for m, t in result.imports.items()}
    evidence = dataclasses.replace(evidence, imports=shown)
    if failed or not result.imports:
        module, text = next(iter(failed.items())) if failed else ("", "no module was imported")
        reason = f"import {module} fails in {runtime}: {_last_line(text)}" if module else text
        return judged(Status.FAILS, Code.IMPORT_FAILED, reason, evidence)
    dependencies = len(evidence.closure) - 1
    reason = f"installed with micropip and imported ({', '.join(imports)}) in {runtime}"
    if dependencies:
        reason += f", with {dependencies} dependenc{'y' if dependencies == 1 else 'ies'} from this mirror"
    if evidence.newer_upstream:
        reason += f"; {evidence.newer_upstream} is upstream, not mirrored"
    return judged(Status.WORKS, Code.IMPORTED, reason, evidence)


def dependency(
    subject: Subject,
    requirement: Requirement,
    parent: str | None,
    outcome: Verdict,
    explanation: str,
    key: str,
) -> Verdict:
    """The closure fails on ``requirement``, whose own verdict is ``outcome``."""
    chain = f"required by {parent}" if parent else "requested directly"
    evidence = Evidence(dependency=outcome, detail=explanation)
    if outcome.status is Status.BUILDABLE:
        reason = f"needs {requirement} ({chain}), which is buildable: {outcome.reason}"
        return subject.verdict(Status.BUILDABLE, Code.DEPENDENCY_BUILDABLE, reason, evidence, key)
    code = Code.DEPENDENCY_MISSING if outcome.code is Code.NO_SUCH_PROJECT else Code.DEPENDENCY_FAILS
    reason = f"needs {requirement} ({chain}), which fails: {outcome.reason}"
    return subject.verdict(Status.FAILS, code, reason, evidence, key)


def conflict(subject: Subject, explanation: str, key: str) -> Verdict:
    reason = "its dependencies cannot be satisfied together on this runtime (see the detail)"
    return subject.verdict(Status.FAILS, Code.CONFLICT, reason, Evidence(detail=explanation), key)


def from_sdist(
    subject: Subject,
    sdist: FileRef,
    report: SourceReport,
    recipe: str | None,
    build: BuildRef | None,
    key: str,
) -> Verdict:
    """Only an sdist: what its sources need, and what a build of its recipe showed."""
    evidence = Evidence(
        sdist=sdist, sources=report.sources[:SHOWN], languages=report.languages, recipe=recipe, build=build
    )
    if report.unsupported:
        needs = "; ".join(f"{lang} ({', '.join(report.of(lang)[:3])})" for lang in report.unsupported)
        reason = f"only an sdist, and it needs a toolchain this farm's builders lack for Emscripten: {needs}"
        return subject.verdict(Status.FAILS, Code.NO_TOOLCHAIN, reason, evidence, key)
    if build is not None and build.state == "failed":
        step = f" at step {build.step}" if build.step else ""
        first = (build.error or "no error recorded").strip().splitlines()[0]
        reason = f"the build failed{step} ({build.url}): {first}"
        return subject.verdict(Status.FAILS, Code.BUILD_FAILED, reason, evidence, key)
    if build is not None and build.state in ("queued", "running"):
        reason = f"being built: {build.url} ({build.state}{', step ' + build.step if build.step else ''})"
        return subject.verdict(Status.BUILDABLE, Code.BUILDING, reason, evidence, key)
    action = f"`wasmfarm check --build {subject.requirement}` builds it"
    if report.compiled:
        count = len(report.sources)
        reason = (
            f"only an sdist, with {and_list(list(report.languages))} code ({count} file{'s' * (count != 1)}) this "
            f"farm compiles ({action})"
        )
        return subject.verdict(Status.BUILDABLE, Code.SDIST_COMPILED, reason, evidence, key)
    reason = f"only an sdist, pure Python: the farm can build a wheel from it ({action})"
    return subject.verdict(Status.BUILDABLE, Code.SDIST_PURE, reason, evidence, key)
