"""The ``wasmfarm`` entry point: the domain's commands plus ``serve``, which needs the web app."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from farm import site
from farm.cli.common import reports_errors, settings_from
from farm.cli.main import cli
from farm.errors import FarmError
from farm.ops.logs import event

if TYPE_CHECKING:
    from collections.abc import Callable

    from farm.context import Farm
    from farm.settings import Settings
    from index_server.readiness import EditorReadiness

log = logging.getLogger(__name__)


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1; setting `host`).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8080; setting `port`).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default $WASMFARM_DATA_DIR or ~/.local/share/wasmfarm).",
)
@click.option(
    "--public-url", default=None, help="URL clients reach this server at, if not http://host:port/."
)
@click.option(
    "--runtime", "runtimes", multiple=True, help="Pyodide runtime to serve a view for (repeatable)."
)
@click.pass_context
@reports_errors
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    public_url: str | None,
    runtimes: tuple[str, ...],
) -> None:
    """Serve the index, files and uploads (embedded default: SQLite and files under the data directory)."""
    # Here, not at the top: the other commands do not pay for the web app's imports.
    from farm.context import Farm
    from index_server.app import create_app
    from index_server.http_limits import server_config
    from index_server.readiness import AnnouncingServer, EditorReadiness

    settings = settings_from(
        ctx, host=host, port=port, data_dir=data_dir, public_url=public_url, runtimes=list(runtimes) or None
    )
    replaced = site.record(
        settings.data_dir, site.Site(settings.resolved_public_url, tuple(settings.runtimes))
    )
    if replaced is not None:  # pages are rendered again for the new URL or runtimes at start
        log.warning(
            "%s was published as %s for runtimes %s; from now on %s for %s",
            settings.data_dir,
            replaced.public_url,
            ", ".join(replaced.runtimes),
            settings.resolved_public_url,
            ", ".join(settings.runtimes),
        )
    farm = Farm.open(settings)
    app = create_app(settings, farm)
    url = settings.resolved_public_url
    _announce(settings)
    editor_runtime = settings.runtimes[0]  # the editor's default (runner_assets/editor/src/main.js)
    readiness = EditorReadiness(url, editor_runtime, settings.runner_assets_dir / "web", _say(settings))
    missing = [r for r in settings.runtimes if not farm.runtimes.is_installed(r)]
    if editor_runtime not in missing:
        readiness.runtime_installed(editor_runtime)
    elif not settings.auto_install_runtimes:
        readiness.runtime_unavailable(
            editor_runtime,
            f"is not installed (auto_install_runtimes is off): `wasmfarm runtime add {editor_runtime}`",
        )
    if missing and settings.auto_install_runtimes:
        threading.Thread(
            target=_install_missing, args=(farm, missing, readiness), daemon=True, name="runtime-install"
        ).start()
    server = AnnouncingServer(server_config(app, settings), readiness.listening)
    server.run()
    if not server.started:  # uvicorn has logged why (the port is taken, the lifespan failed, ...)
        raise SystemExit(3)


def _announce(settings: Settings) -> None:
    """Where to reach what: for a person in text, as one ``serving`` event in JSON."""
    url = settings.resolved_public_url
    worker = (
        "in this process"
        if not settings.broker_url
        else f"by `wasmfarm worker`s on {settings.broker_url.split('@')[-1]}"
    )
    if settings.log_format == "json":
        event(
            log,
            "serving",
            url=url,
            data_dir=str(settings.data_dir),
            runtimes=settings.runtimes,
            builds=worker,
        )
        return
    click.echo(f"wasmfarm serving {url} (data in {settings.data_dir})", err=True)
    for runtime in settings.runtimes:
        click.echo(f"  micropip index for Pyodide {runtime}: {url}r/{runtime}/simple/", err=True)
    click.echo(
        f"  uploads: twine upload --repository-url {url}legacy/ (token: wasmfarm token create --scope upload)",
        err=True,
    )
    click.echo(f"  builds: {url}builds (run {worker})", err=True)


def _say(settings: Settings) -> Callable[[str], None]:
    """How the editor's readiness is told: a line for a person, or a ``ready`` event in JSON logs."""
    if settings.log_format == "json":
        return lambda line: event(log, "ready", text=line.strip())
    return lambda line: click.echo(line, err=True)


def _install_missing(farm: Farm, versions: list[str], readiness: EditorReadiness) -> None:
    """First start: fetch the configured runtimes. A failure is logged; the index is served regardless."""
    from farm.runtime.install import install_runtime

    for version in versions:
        try:
            install_runtime(farm, version)
            log.info("runtime %s installed and served at /pyodide/%s/", version, version)
            readiness.runtime_installed(version)
        except FarmError as exc:
            log.error(
                "runtime %s could not be installed: %s (retry: wasmfarm runtime add %s)",
                version,
                exc,
                version,
            )
            readiness.runtime_unavailable(
                version, f"could not be installed (see the log above; retry: wasmfarm runtime add {version})"
            )


def main() -> None:
    cli(hoist_verbose(sys.argv[1:]))


def hoist_verbose(args: list[str]) -> list[str]:
    """``-v``/``--verbose`` belongs to the command group, but people type it after the command too
    (``wasmfarm mirror -v attrs``): it is moved to the front, up to a ``--``."""
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if a in ("-v", "--verbose")]
    rest = [a for a in args[:end] if a not in ("-v", "--verbose")]
    return flags[:1] + rest + args[end:]


if __name__ == "__main__":
    main()
