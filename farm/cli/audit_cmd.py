"""``wasmfarm audit``: the audit trail, newest first."""

from __future__ import annotations

import json
from pathlib import Path

import click

from farm.audit.trail import Action, AuditTrail
from farm.cli.common import data_dir_option, reports_errors, settings_from
from farm.context import Farm


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.option(
    "--limit", type=click.IntRange(1, 100_000), default=50, show_default=True, help="Newest N events."
)
@click.option(
    "--action", type=click.Choice([a.value for a in Action]), default=None, help="Only this action."
)
@data_dir_option
@click.pass_context
@reports_errors
def audit(ctx: click.Context, as_json: bool, limit: int, action: str | None, data_dir: Path | None) -> None:
    """Uploads and admin actions (yank, unyank, delete, token create and revoke, build cancel and rebuild,
    quarantine release): when, who (a token's id and
    prefix, never its secret, or cli:<user>), what, why and from which address."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    for entry in AuditTrail(farm.engine).entries(limit, action):
        if as_json:
            click.echo(json.dumps(entry.as_dict(), sort_keys=True))
            continue
        reason = f"\treason: {entry.reason}" if entry.reason else ""
        click.echo(
            f"{entry.at:%Y-%m-%d %H:%M:%S}\t{entry.action}\t{entry.target}\t{entry.actor}\t"
            f"{entry.client or '-'}{reason}"
        )
