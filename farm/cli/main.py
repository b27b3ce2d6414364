"""``wasmfarm``: the command group and the domain's commands."""

from __future__ import annotations

from pathlib import Path

import click

from farm import __version__
from farm.cli.audit_cmd import audit
from farm.cli.build_cmd import build, build_cancel, build_log, builder, builds, worker
from farm.cli.check_cmd import check
from farm.cli.common import configure_logging
from farm.cli.curation_cmd import delete, yank
from farm.cli.fsck_cmd import fsck
from farm.cli.mirror_cmd import mirror
from farm.cli.pages_cmd import nginx_config, quarantine, render
from farm.cli.recipes_cmd import recipes
from farm.cli.runtime_cmd import explain, lock, runtime
from farm.cli.token_cmd import token


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="wasmfarm")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory for every command (also: WASMFARM_DATA_DIR).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, verbose: bool) -> None:
    """wasmfarm: a package mirror and WebAssembly wheel build farm for Pyodide.

    Settings come from options, WASMFARM_* environment variables and a TOML config file
    (WASMFARM_CONFIG, or ~/.config/wasmfarm/wasmfarm.toml); see docs/configuration.md.
    """
    configure_logging(ctx, verbose)
    ctx.obj = {"data_dir": data_dir} if data_dir else {}


cli.add_command(mirror)
for _command in (builder, build, builds, build_log, build_cancel, worker):
    cli.add_command(_command)
cli.add_command(token)
cli.add_command(render)
cli.add_command(nginx_config)
cli.add_command(quarantine)
cli.add_command(fsck)
cli.add_command(runtime)
cli.add_command(lock)
cli.add_command(explain)
cli.add_command(recipes)
cli.add_command(check)
cli.add_command(yank)
cli.add_command(delete)
cli.add_command(audit)
