"""``wasmfarm render`` and ``wasmfarm nginx-config``: the rendered page tree and serving it statically."""

from __future__ import annotations

from pathlib import Path

import click

from farm import site
from farm.audit.trail import Action, Actor, AuditTrail
from farm.cli.common import data_dir_option, reports_errors, settings_from
from farm.context import Farm
from farm.index.nginx import nginx_config_text


@click.command()
@click.option("--all", "everything", is_flag=True, help="Re-render every page, not only the changed ones.")
@click.option(
    "--public-url", default=None, help="URL clients use to reach the server (absolute JSON file URLs)."
)
@data_dir_option
@click.pass_context
@reports_errors
def render(ctx: click.Context, everything: bool, public_url: str | None, data_dir: Path | None) -> None:
    """Render the index pages of changed projects (the server also does this on start and on every change).

    --public-url changes the URL the data directory publishes (as `wasmfarm serve` does when started with another).
    """
    settings = settings_from(ctx, data_dir=data_dir, public_url=public_url)
    if public_url:
        recorded = site.load(settings.data_dir)
        runtimes = recorded.runtimes if recorded else tuple(settings.runtimes)
        site.record(settings.data_dir, site.Site(settings.resolved_public_url, runtimes))
    farm = Farm.open(settings)
    if everything:
        farm.catalog.mark_all_stale()
    count = farm.publisher.refresh_stale()
    click.echo(f"rendered {count} project(s) into {farm.settings.www_dir}")


@click.command("nginx-config")
@click.option("--listen", default="8081", help="nginx listen directive value.")
@data_dir_option
@click.pass_context
@reports_errors
def nginx_config(ctx: click.Context, listen: str, data_dir: Path | None) -> None:
    """Print an nginx server block that serves the index and files straight from the data directory.

    Uploads and everything else are proxied to `wasmfarm serve`. See docs/deployment.md.
    """
    settings = settings_from(ctx, data_dir=data_dir)
    click.echo(
        nginx_config_text(
            settings.www_dir, settings.blob_dir, listen, f"http://{settings.host}:{settings.port}"
        )
    )


@click.group()
def quarantine() -> None:
    """Projects kept out of every page and lock because a page could not be made of them."""


@quarantine.command("list")
@data_dir_option
@click.pass_context
@reports_errors
def quarantine_list(ctx: click.Context, data_dir: Path | None) -> None:
    """List quarantined projects and why."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    for project in farm.catalog.quarantined():
        click.echo(f"{project.id}\t{project.name!r}\t{project.quarantine}")


@quarantine.command("release")
@click.argument("project_id", type=int)
@data_dir_option
@click.pass_context
@reports_errors
def quarantine_release(ctx: click.Context, project_id: int, data_dir: Path | None) -> None:
    """Render a quarantined project again (by its id from `quarantine list`); it returns if it is still bad."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    farm.catalog.release(project_id)
    AuditTrail(farm.engine).record(Action.QUARANTINE_RELEASE, f"project {project_id}", Actor.command_line())
    farm.publisher.refresh_stale()
    still = {p.id for p in farm.catalog.quarantined()}
    click.echo(f"project {project_id} " + ("is quarantined again" if project_id in still else "released"))
