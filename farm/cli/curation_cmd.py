"""``wasmfarm yank`` and ``wasmfarm delete``: of one file, or of every file of a release. The command line acts as
an admin (it holds the database); each changed file is recorded in the audit trail as ``cli:<user>``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from farm.audit.trail import Actor
from farm.cli.common import data_dir_option, reports_errors, settings_from
from farm.context import Farm
from farm.curation.curator import Curator, Outcome, curator_for
from farm.store.models import DistFile


def _target(curator: Curator, words: tuple[str, ...]) -> tuple[str, list[DistFile]]:
    if len(words) == 1:
        return curator.file(words[0])
    if len(words) == 2:
        return curator.release(*words)
    raise click.UsageError(
        "give a file name (demo-1.0-py3-none-any.whl), or a project and a version (demo 1.0)"
    )


def _report(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(outcome.as_dict(), indent=2))
        return
    for state in outcome.files:
        if state.deleted:
            status = "deleted"
        elif state.yanked:
            status = f"yanked ({state.yanked_reason or 'no reason given'})"
        else:
            status = "not yanked"
        same = "" if state.filename in outcome.changed else " [unchanged]"
        click.echo(f"{state.filename}\t{state.origin}\t{status}{same}")
    click.echo(f"{outcome.verb.value} {outcome.target}: {len(outcome.changed)} file(s) changed", err=True)


@click.command()
@click.argument("target", nargs=-1, required=True, metavar="FILE | PROJECT VERSION")
@click.option(
    "--reason", default=None, help="Why (shown on the index pages, PEP 592, and kept in the audit trail)."
)
@click.option(
    "--undo", is_flag=True, help="Un-yank instead; a mirrored file goes back to upstream's yank state."
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@data_dir_option
@click.pass_context
@reports_errors
def yank(
    ctx: click.Context,
    target: tuple[str, ...],
    reason: str | None,
    undo: bool,
    as_json: bool,
    data_dir: Path | None,
) -> None:
    """Yank a file, or every file of a release (PEP 592): it stays listed as yanked, and installers and locks skip
    it unless it is pinned exactly. A local yank of a mirrored file is kept over upstream's until undone."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    curator = curator_for(farm)
    name, rows = _target(curator, target)
    _report(curator.yank(name, rows, Actor.command_line(), reason, undo=undo), as_json)


@click.command()
@click.argument("target", nargs=-1, required=True, metavar="FILE | PROJECT VERSION")
@click.option("--reason", default=None, help="Why (kept in the audit trail).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@data_dir_option
@click.pass_context
@reports_errors
def delete(
    ctx: click.Context, target: tuple[str, ...], reason: str | None, as_json: bool, data_dir: Path | None
) -> None:
    """Delete an uploaded file, or every file of a release (all uploaded, or nothing is deleted): it leaves the
    pages and locks, and its stored copy goes unless another file, a build or a recipe uses it. Mirrored and built
    files cannot be deleted (yank them)."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    curator = curator_for(farm)
    name, rows = _target(curator, target)
    _report(curator.delete(name, rows, Actor.command_line(), reason), as_json)
