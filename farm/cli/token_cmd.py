"""``wasmfarm token``: create, list and revoke API tokens."""

from __future__ import annotations

from pathlib import Path

import click

from farm.cli.common import data_dir_option, reports_errors, settings_from
from farm.context import Farm
from farm.store.models import TokenScope


@click.group()
def token() -> None:
    """API tokens. Scopes: read < upload < admin (a scope includes those below it)."""


@token.command("create")
@click.option(
    "--scope",
    type=click.Choice([s.value for s in TokenScope]),
    required=True,
    help="read: the index when reads are protected; upload: twine uploads; admin: everything.",
)
@click.option("--description", default="", help="A note to tell tokens apart in `wasmfarm token list`.")
@data_dir_option
@click.pass_context
@reports_errors
def create(ctx: click.Context, scope: str, description: str, data_dir: Path | None) -> None:
    """Create a token and print it. It is shown only this once; only its hash is stored."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    issued = farm.tokens.create(TokenScope(scope), description)
    click.echo(issued.secret)
    click.echo(
        f"token {issued.id} (scope {scope}) created; use it as the password with user __token__ "
        "(twine) or as 'Authorization: Bearer <token>'",
        err=True,
    )


@token.command("list")
@data_dir_option
@click.pass_context
@reports_errors
def list_(ctx: click.Context, data_dir: Path | None) -> None:
    """List tokens (never their secrets)."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    for info in farm.tokens.list():
        state = "revoked" if info.revoked else "active"
        click.echo(
            f"{info.id}\t{info.prefix}…\t{info.scope.value}\t{state}\t{info.created_at:%Y-%m-%d}\t{info.description}"
        )


@token.command("revoke")
@click.argument("token_id", type=int)
@data_dir_option
@click.pass_context
@reports_errors
def revoke(ctx: click.Context, token_id: int, data_dir: Path | None) -> None:
    """Revoke a token by its id (from `wasmfarm token list`)."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    farm.tokens.revoke(token_id)
    click.echo(f"token {token_id} revoked")
