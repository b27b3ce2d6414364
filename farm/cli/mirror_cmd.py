"""``wasmfarm mirror``: pull what runs on the configured runtimes from an upstream index."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from farm.cli.common import data_dir_option, reports_errors, settings_from
from farm.cli.progress import CountingBar
from farm.context import Farm
from farm.mirror.mirror import Mirror, MirrorReport, PlannedFile, Unselected, read_requirements_file
from farm.mirror.mirror import Progress as MirrorProgress
from farm.mirror.pins import PinnedSource, parse_requirement_lines
from farm.mirror.trusted_lock import TrustedLock, read_trusted_lock
from farm.mirror.upstream import UpstreamIndex
from farm.settings import Settings


class TerminalProgress(MirrorProgress):
    """A progress bar on a terminal, one line per file otherwise (logs, CI)."""

    def __init__(self) -> None:
        self.bar = CountingBar("mirroring")

    def start(self, total: int) -> None:
        self.bar.start(total)

    def advance(self, filename: str, outcome: str) -> None:
        self.bar.step(filename, f"{outcome}: {filename}")

    def message(self, text: str) -> None:
        click.echo(text, err=True)


@click.command()
@click.argument("projects", nargs=-1)
@click.option(
    "-r",
    "--requirement",
    "requirement_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Requirements file; its closure is resolved for each runtime (repeatable).",
)
@click.option(
    "--upstream", default=None, help="Upstream PEP 503/691 index URL (default: setting upstream_index)."
)
@click.option(
    "--pyodide-lock",
    "pyodide_lock",
    default=None,
    help="URL of the pyodide-lock.json published with the upstream index, when that is an index of Pyodide wheels "
    "you trust (default: setting upstream_pyodide_lock, unless --upstream names another index): the wheels it lists "
    "keep its metadata in the runtimes' locks, and the shared libraries they need are fetched from beside it and "
    "verified.",
)
@click.option(
    "--pyodide-lock-sha256",
    "pyodide_lock_sha256",
    default=None,
    help="The sha256 the --pyodide-lock must have (pin the lock you reviewed); another is refused.",
)
@click.option(
    "--runtime", "runtimes", multiple=True, help="Runtime to mirror for (default: the configured ones)."
)
@click.option(
    "--deps/--no-deps",
    default=None,
    help="Resolve dependencies too (the default): a project is mirrored with what it needs on each runtime, so "
    "micropip can install it from the mirror. --no-deps: the named projects only.",
)
@click.option(
    "--all-versions", is_flag=True, help="For named projects: every version that runs, not the newest."
)
@click.option("--dry-run", is_flag=True, help="Print what would be mirrored and stop.")
@data_dir_option
@click.pass_context
@reports_errors
def mirror(
    ctx: click.Context,
    projects: tuple[str, ...],
    requirement_files: tuple[str, ...],
    upstream: str | None,
    pyodide_lock: str | None,
    pyodide_lock_sha256: str | None,
    runtimes: tuple[str, ...],
    deps: bool | None,
    all_versions: bool,
    dry_run: bool,
    data_dir: Path | None,
) -> None:
    """Mirror PROJECTS (requirement specifiers such as 'attrs' or 'msgpack>=1.1') and/or -r files.

    Keeps only files that run on the runtimes (PEP 783 pyemscripten wheels, abi3 and pure wheels), verifies every
    sha256, and is incremental: run it again and only what is new is downloaded; after an interruption (even
    kill -9) it picks up where it stopped. Upstream yanks are carried.
    """
    if not projects and not requirement_files:
        raise click.UsageError("name projects to mirror, or give a requirements file with -r")
    settings = settings_from(
        ctx,
        data_dir=data_dir,
        upstream_index=upstream,
        runtimes=list(runtimes) or None,
    )
    farm = Farm.open(settings)
    named_lines = parse_requirement_lines([("command line", i + 1, p) for i, p in enumerate(projects)])
    file_lines = parse_requirement_lines(
        [line for f in requirement_files for line in read_requirements_file(f)]
    )
    named = [line.requirement for line in named_lines]
    from_files = [line.requirement for line in file_lines]
    index = UpstreamIndex(settings.upstream_index, timeout=settings.http_timeout)
    pins = PinnedSource(index, [*named_lines, *file_lines])
    progress = TerminalProgress()
    try:
        # The setting belongs to the setting upstream_index: another --upstream takes only its own --pyodide-lock.
        lock_url = pyodide_lock or (settings.upstream_pyodide_lock if upstream is None else None)
        if pyodide_lock_sha256 and not lock_url:
            raise click.UsageError("--pyodide-lock-sha256 pins a lock: give --pyodide-lock too")
        trusted = _trusted_lock(lock_url, pyodide_lock_sha256, index, settings)
        job = Mirror(farm, index, settings.targets, pins if pins.active else None, trusted_lock=trusted)
        planned: dict[str, PlannedFile] = {}
        if from_files:
            items = (
                job.plan_closure(from_files)
                if deps is not False
                else job.plan_projects(from_files, all_versions)
            )
            planned.update((p.file.filename, p) for p in items)
        if named:  # each with its closure, unless --no-deps (or --all-versions, a listing of the named ones)
            items = (
                job.plan_projects(named, all_versions)
                if deps is False or (all_versions and deps is None)
                else job.plan_named(named)
            )
            planned.update((p.file.filename, p) for p in items)
        if dry_run:
            extra = job.lock_plan(list(planned.values()))
            planned.update((f, PlannedFile(name, file)) for f, (name, file) in extra.wheels.items())
            for filename in sorted(planned.keys() - extra.refused.keys()):
                click.echo(filename)
            for filename in sorted(extra.libraries):
                click.echo(f"{filename} (shared library of the trusted lock)")
            for problem in [*extra.refused.values(), *extra.problems]:
                click.secho(f"error: {problem}", fg="red", err=True)
            if extra.refused or extra.problems:
                sys.exit(1)
            if _explain_unselected(job.unselected, len(settings.targets)):
                sys.exit(1)
            return
        report = job.run(list(planned.values()), progress, settings.mirror_concurrency)
    finally:
        index.close()
    _summarise(report)
    _audit(farm, settings.upstream_index, report)
    if _explain_unselected(job.unselected, len(settings.targets)) or report.errors:
        sys.exit(1)


def _trusted_lock(
    url: str | None, sha256: str | None, index: UpstreamIndex, settings: Settings
) -> TrustedLock | None:
    if not url:
        return None
    lock = read_trusted_lock(url, index, settings.targets, sha256)
    click.echo(f"trusted lock {url}: sha256 {lock.sha256}, for Pyodide {', '.join(lock.runtimes)}", err=True)
    for name, why in sorted(lock.skipped.items()):
        click.secho(f"trusted lock: entry {name} skipped: {why}", fg="yellow", err=True)
    return lock


def _explain_unselected(unselected: list[Unselected], runtimes: int) -> bool:
    """Say why each named requirement selected nothing on a runtime; True when one selected nothing on any."""
    empty: dict[str, set[str]] = {}
    for item in unselected:
        empty.setdefault(item.requirement, set()).add(item.runtime)
        click.secho(
            f"nothing selected for {item.requirement} on Pyodide {item.runtime}: {item.reason}",
            fg="yellow",
            err=True,
        )
    return any(len(on) == runtimes for on in empty.values())


def _audit(farm: Farm, upstream: str, report: MirrorReport) -> None:
    """A run that changed the store or failed is kept in the audit trail (a no-op run is not: cron runs it often)."""
    from farm.audit.trail import Action, Actor, AuditTrail

    if not (report.downloaded or report.reused or report.yanks_updated or report.errors):
        return
    AuditTrail(farm.engine).record(
        Action.MIRROR, upstream, Actor.command_line(), planned=report.planned, downloaded=report.downloaded,
        resumed=report.reused, bytes=report.bytes_downloaded, yanks=report.yanks_updated, errors=len(report.errors),
    )  # fmt: skip


def _summarise(report: MirrorReport) -> None:
    click.echo(
        f"mirrored: {report.planned} selected, {report.downloaded} downloaded "
        f"({report.bytes_downloaded / 1e6:.1f} MB), {report.reused} resumed, {report.present} already present, "
        f"{report.yanks_updated} yank changes carried, {len(report.errors)} failed",
        err=True,
    )
    if report.lock_entries or report.libraries:
        click.echo(
            f"trusted lock: metadata kept for {report.lock_entries} wheels, {report.libraries} shared libraries",
            err=True,
        )
    for error in report.errors:
        click.secho(f"error: {error}", fg="red", err=True)
