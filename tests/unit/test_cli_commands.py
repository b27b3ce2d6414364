"""The command group imports each command when it runs: every name resolves, and ``mirror`` stays light."""

from __future__ import annotations

import subprocess
import sys

import click

from farm.cli.main import COMMANDS, cli


def test_every_listed_command_resolves_to_itself() -> None:
    context = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(context, name)
        assert command is not None and command.name == name
    assert set(COMMANDS) <= set(cli.list_commands(context))


def test_the_mirror_command_does_not_import_the_web_app_or_the_build_farm() -> None:
    probe = (
        "import sys, click\n"
        "from index_server.cli import cli\n"
        "cli.get_command(click.Context(cli), 'mirror')\n"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'farm.build.runner', 'farm.cli.build_cmd') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
