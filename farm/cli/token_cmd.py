"""``wasmfarm token``: create, list and revoke API tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from farm.audit.trail import Action, Actor, AuditTrail
from farm.cli.common import data_dir_option, reports_errors, settings_from
from farm.context import Farm
from farm.errors import ConfigurationError
from farm.store.models import TokenScope

_DURATION = re.compile(r"(\d+)([hdw])")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """``30d``, ``12h``, ``2w`` from now, or a date or time in ISO 8601 (UTC unless it says otherwise)."""
    now = now or datetime.now(UTC)
    match = _DURATION.fullmatch(text.strip())
    if match:
        try:
            return now + timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        except OverflowError:
            raise ConfigurationError(f"--expires {text!r} is further away than a date can be") from None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigurationError(
            f"--expires {text!r}: give a duration (12h, 30d, 2w) or an ISO date (2027-01-31)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.group()
def token() -> None:
    """API tokens. Scopes: read < upload < admin and read < build < admin (a scope includes those below it)."""


@token.command("create")
@click.option(
    "--scope",
    type=click.Choice([s.value for s in TokenScope]),
    required=True,
    help="read: the index when reads are protected; upload: twine uploads; build: check and build requests "
    "from the /compat pages; admin: everything.",
)
@click.option("--description", default="", help="A note to tell tokens apart in `wasmfarm token list`.")
@click.option("--expires", default=None, help="When it stops working: 12h, 30d, 2w, or an ISO date (UTC).")
@click.option(
    "--project",
    "projects",
    multiple=True,
    help="Restrict uploads to this project (repeatable); without it the token may upload to any project.",
)
@data_dir_option
@click.pass_context
@reports_errors
def create(
    ctx: click.Context,
    scope: str,
    description: str,
    expires: str | None,
    projects: tuple[str, ...],
    data_dir: Path | None,
) -> None:
    """Create a token and print it. It is shown only this once; only its hash is stored."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    expires_at = parse_expiry(expires) if expires else None
    issued = farm.tokens.create(
        TokenScope(scope), description, expires_at=expires_at, projects=projects or None
    )
    click.echo(issued.secret)
    AuditTrail(farm.engine).record(
        Action.TOKEN_CREATE,
        f"token {issued.id}",
        Actor.command_line(),
        scope=scope,
        projects=list(projects) or None,
        expires_at=expires_at,
    )
    limits = (f", expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "") + (
        f", uploads only to {', '.join(sorted(set(projects)))}" if projects else ""
    )
    click.echo(
        f"token {issued.id} (scope {scope}{limits}) created; use it as the password with user __token__ "
        "(twine) or as 'Authorization: Bearer <token>'",
        err=True,
    )


@token.command("list")
@data_dir_option
@click.pass_context
@reports_errors
def list_(ctx: click.Context, data_dir: Path | None) -> None:
    """List tokens (never their secrets): id, prefix, scope, state, created, expires, projects, description."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    for info in farm.tokens.list():
        state = "revoked" if info.revoked else "expired" if info.expired() else "active"
        expires = f"{info.expires_at:%Y-%m-%d %H:%M}" if info.expires_at else "never"
        projects = ",".join(info.projects) if info.projects is not None else "any"
        click.echo(
            f"{info.id}\t{info.prefix}…\t{info.scope.value}\t{state}\t{info.created_at:%Y-%m-%d}\t"
            f"expires {expires}\tprojects {projects}\t{info.description}"
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
    AuditTrail(farm.engine).record(Action.TOKEN_REVOKE, f"token {token_id}", Actor.command_line())
    click.echo(f"token {token_id} revoked")
