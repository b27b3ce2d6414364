"""``wasmfarm fsck``: check the store against the catalog, and mend it with ``--repair``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from farm.cli.common import data_dir_option, reports_errors, settings_from
from farm.context import Farm
from farm.fsck.check import DAMAGE, FsckReport, run_checks
from farm.fsck.repair import repair


@click.command()
@click.option(
    "--repair",
    "mend",
    is_flag=True,
    help="Fetch damaged mirrored files again, quarantine the rest, re-render.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@data_dir_option
@click.pass_context
@reports_errors
def fsck(ctx: click.Context, mend: bool, as_json: bool, data_dir: Path | None) -> None:
    """Re-hash every stored file against the catalog; check pages and locks; list orphans and missing files.

    Exits 0 when the store is sound (orphans are listed but are not damage), 1 when damage remains.
    """
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    click.echo(f"checking {farm.settings.data_dir}", err=True)
    with Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        transient=True, disable=as_json,
    ) as bar:  # fmt: skip
        task = bar.add_task("hashing", total=None)
        report = run_checks(farm, lambda size: bar.advance(task, size))
        if mend and any(f.kind in DAMAGE for f in report.findings):
            bar.update(task, description="repairing")
            report = repair(farm, report, lambda size: bar.advance(task, size))
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        _print(report)
    if not report.sound:
        raise SystemExit(1)


def _print(report: FsckReport) -> None:
    for finding in report.findings:
        state = " [repaired]" if finding.repaired else f" [{finding.note}]" if finding.note else ""
        click.echo(f"{finding.kind}: {finding.subject}: {finding.detail}{state}")
    rate = report.bytes_hashed / report.seconds / 1e6 if report.seconds else 0.0
    damage = sum(1 for f in report.findings if f.kind in DAMAGE and not f.repaired)
    click.echo(
        f"{report.files_checked} file(s), {report.bytes_hashed / 1e6:.1f} MB hashed ({rate:.0f} MB/s), "
        f"{report.pages_checked} page(s); {damage} problem(s) left: "
        + ("the store is sound" if report.sound else "the store is damaged"),
        err=True,
    )
