"""``wasmfarm check``: does a requirement work on Pyodide? Verdicts from real runs, kept, and acted on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click
from packaging.requirements import Requirement

from farm.build.jobs import BuildFarm, Jobs, make_broker
from farm.cli.build_cmd import follow_builds
from farm.cli.common import data_dir_option, reports_errors, settings_from
from farm.cli.mirror_cmd import TerminalProgress as MirrorProgress
from farm.cli.progress import CountingBar
from farm.compat.mirroring import mirror_available, wants_mirroring
from farm.compat.oracle import Oracle
from farm.compat.requests import BuildTicket
from farm.compat.scan import ScanProgress, scan
from farm.compat.service import build_requests, open_oracle
from farm.compat.verdict import Code, Status, Verdict, json_schema
from farm.context import Farm
from farm.mirror.mirror import Mirror, parse_requirements, read_requirements_file
from farm.mirror.trusted_lock import trusted_lock_source
from farm.mirror.upstream import UpstreamIndex
from farm.runtime.target import RuntimeTarget

COLOURS = {Status.WORKS: "green", Status.AVAILABLE: "cyan", Status.BUILDABLE: "yellow", Status.FAILS: "red"}


class ScanBar(ScanProgress):
    """A progress bar on a terminal, one line per verdict otherwise."""

    def __init__(self) -> None:
        self.bar = CountingBar("checking")

    def start(self, total: int) -> None:
        self.bar.start(total)

    def advance(self, verdict: Verdict) -> None:
        label = f"{verdict.requirement} ({verdict.runtime}): {verdict.status}"
        self.bar.step(label, label)


@click.command("check")
@click.argument("requirements", nargs=-1)
@click.option(
    "-r",
    "--requirement",
    "requirement_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Requirements file to check, line by line (repeatable).",
)
@click.option(
    "--runtime", "runtimes", multiple=True, help="Runtime to check on (default: the configured ones)."
)
@click.option("--upstream", default=None, help="Upstream index (default: setting upstream_index).")
@click.option("--offline", is_flag=True, help="Look at this mirror only, not at the upstream index.")
@click.option(
    "--mirror", is_flag=True, help="Admin: mirror what is available upstream (with its closure), recheck."
)
@click.option("--build", is_flag=True, help="Build what is buildable (a generated recipe), wait, recheck.")
@click.option(
    "--scan",
    "scan_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Check a list (a requirements file) in batches with a progress bar; every verdict is kept.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON (docs/compat.md).")
@click.option("--schema", is_flag=True, help="Print the JSON Schema of a verdict and stop.")
@data_dir_option
@click.pass_context
@reports_errors
def check(
    ctx: click.Context,
    requirements: tuple[str, ...],
    requirement_files: tuple[str, ...],
    runtimes: tuple[str, ...],
    upstream: str | None,
    offline: bool,
    mirror: bool,
    build: bool,
    scan_file: str | None,
    as_json: bool,
    schema: bool,
    data_dir: Path | None,
) -> None:
    """Does each REQUIREMENT work on Pyodide? Checked for real: a wheel of this mirror installed with micropip
    into a fresh Pyodide and its modules imported; else what upstream offers, whether the farm can build it, or
    why not. Verdicts are kept: the same inputs again answer at once. Exits 1 unless everything works.
    """
    if schema:
        click.echo(json.dumps(json_schema(), indent=2))
        return
    if not requirements and not requirement_files and not scan_file:
        raise click.UsageError("name requirements to check, or give -r FILE or --scan FILE")
    settings = settings_from(ctx, data_dir=data_dir, upstream_index=upstream, runtimes=list(runtimes) or None)
    farm = Farm.open(settings)
    wanted = parse_requirements([("command line", i + 1, r) for i, r in enumerate(requirements)])
    files = [*requirement_files, *([scan_file] if scan_file else [])]
    wanted += parse_requirements([line for f in files for line in read_requirements_file(f)])
    index = None if offline else UpstreamIndex(settings.upstream_index, timeout=settings.http_timeout)
    try:
        oracle, _trials = open_oracle(farm, index)
        on = list(settings.runtimes)
        if scan_file:
            verdicts = scan(oracle, wanted, on, ScanBar(), settings.check_batch_size).verdicts
        else:
            verdicts = oracle.check(wanted, on, batch_size=settings.check_batch_size)
        if mirror and index is not None:
            verdicts = _mirror_and_recheck(farm, oracle, index, verdicts)
        tickets: list[BuildTicket] = []
        if build and index is not None:
            verdicts, tickets = _build_and_recheck(farm, oracle, index, verdicts)
    finally:
        if index is not None:
            index.close()
    if as_json:
        document = {"verdicts": [v.to_json() for v in verdicts], "builds": [t.to_json() for t in tickets]}
        click.echo(json.dumps(document, indent=2))
    else:
        _table(verdicts)
    if scan_file:
        counts = ", ".join(f"{sum(v.status is s for v in verdicts)} {s}" for s in Status)
        click.echo(f"scanned {len(verdicts)} check(s): {counts}", err=True)
    if not all(v.works for v in verdicts):
        raise SystemExit(1)


def _recheck(oracle: Oracle, verdicts: list[Verdict], indices: Sequence[int]) -> list[Verdict]:
    """Check the verdicts at ``indices`` again (their inputs changed: mirrored, built)."""
    result = list(verdicts)
    by_runtime: dict[str, list[int]] = {}
    for i in indices:
        by_runtime.setdefault(verdicts[i].runtime, []).append(i)
    for runtime, positions in by_runtime.items():
        again = oracle.check([Requirement(verdicts[i].requirement) for i in positions], [runtime])
        for i, verdict in zip(positions, again, strict=True):
            result[i] = verdict
    return result


def _mirror_and_recheck(
    farm: Farm, oracle: Oracle, index: UpstreamIndex, verdicts: list[Verdict]
) -> list[Verdict]:
    trusted = trusted_lock_source(farm.settings.upstream_pyodide_lock, index, farm.settings.targets)

    def mirror_for(targets: Sequence[RuntimeTarget]) -> Mirror:
        return Mirror(farm, index, targets, trusted_lock=trusted())

    report = mirror_available(verdicts, mirror_for, MirrorProgress(), farm.settings.mirror_concurrency)
    if report is None:
        return verdicts
    click.echo(f"mirrored: {report.downloaded} downloaded, {report.present} already present", err=True)
    for error in report.errors:
        click.secho(f"error: {error}", fg="red", err=True)
    return _recheck(oracle, verdicts, [i for i, v in enumerate(verdicts) if wants_mirroring(v)])


def _buildable(verdict: Verdict) -> bool:
    return verdict.status is Status.BUILDABLE and verdict.code is not Code.BUILDING


def _build_and_recheck(
    farm: Farm, oracle: Oracle, index: UpstreamIndex, verdicts: list[Verdict]
) -> tuple[list[Verdict], list[BuildTicket]]:
    chosen = [i for i, v in enumerate(verdicts) if _buildable(v) or v.code is Code.BUILDING]
    if not chosen:
        return verdicts, []
    jobs = Jobs(BuildFarm(farm, farm.builds, farm.builders), make_broker(farm.settings.broker_url))
    requests = build_requests(farm, index, jobs.send)
    tickets = [requests.request(verdicts[i]) for i in chosen]
    ids = sorted({t.build_id for t in tickets if t.build_id is not None})
    # In-process builds: a joined build queued by a process that is gone needs its message sent again.
    if not farm.settings.broker_url:
        for ticket in tickets:
            if ticket.status == "joined" and ticket.build_id is not None:
                jobs.send(ticket.build_id, "build")
    for ticket in tickets:
        click.echo(
            f"{ticket.project} {ticket.version}: build {ticket.build_id or '-'} {ticket.status}", err=True
        )
    follow_builds(farm, jobs, ids)
    return _recheck(oracle, verdicts, chosen), tickets


def _table(verdicts: Sequence[Verdict]) -> None:
    rows = [(v.requirement, v.version or "-", v.runtime, v.status.value, v.reason) for v in verdicts]
    header = ("requirement", "version", "runtime", "verdict", "reason")
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(4)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(header[:4], widths, strict=True)) + "  " + header[4])
    for verdict, row in zip(verdicts, rows, strict=True):
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        cells[3] = click.style(cells[3], fg=COLOURS.get(verdict.status))
        click.echo("  ".join(cells) + "  " + row[4])
