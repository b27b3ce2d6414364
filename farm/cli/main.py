"""``wasmfarm``: the command group and the domain's commands."""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from farm import __version__
from farm.cli.common import configure_logging

# Each command is imported when it runs (or when --help lists them), as in click's "lazily loading subcommands":
# ``wasmfarm mirror`` does not pay for importing the build farm, the web app or the lockfile machinery.
COMMANDS = {
    "mirror": "farm.cli.mirror_cmd:mirror",
    "builder": "farm.cli.build_cmd:builder",
    "build": "farm.cli.build_cmd:build",
    "builds": "farm.cli.build_cmd:builds",
    "build-log": "farm.cli.build_cmd:build_log",
    "build-cancel": "farm.cli.build_cmd:build_cancel",
    "worker": "farm.cli.build_cmd:worker",
    "token": "farm.cli.token_cmd:token",
    "render": "farm.cli.pages_cmd:render",
    "nginx-config": "farm.cli.pages_cmd:nginx_config",
    "quarantine": "farm.cli.pages_cmd:quarantine",
    "fsck": "farm.cli.fsck_cmd:fsck",
    "runtime": "farm.cli.runtime_cmd:runtime",
    "lock": "farm.cli.runtime_cmd:lock",
    "explain": "farm.cli.runtime_cmd:explain",
    "recipes": "farm.cli.recipes_cmd:recipes",
    "check": "farm.cli.check_cmd:check",
    "yank": "farm.cli.curation_cmd:yank",
    "delete": "farm.cli.curation_cmd:delete",
    "audit": "farm.cli.audit_cmd:audit",
}


class LazyGroup(click.Group):
    """A group whose commands named in ``COMMANDS`` are imported on first use; others are added as usual."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, _, attribute = COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command) or command.name != cmd_name:
                raise RuntimeError(f"{COMMANDS[cmd_name]} is not the command {cmd_name!r}")
            self.add_command(command)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110}
)
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
