"""What every command shares: building the settings once from options, and turning errors into exit codes."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from farm.errors import FarmError
from farm.ops import logs
from farm.settings import Settings, data_dir_origin, load_settings

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("wasmfarm")


def data_dir_option[F: Callable[..., Any]](func: F) -> F:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Data directory (database, files, pages). Default: $WASMFARM_DATA_DIR or ~/.local/share/wasmfarm.",
    )(func)


def settings_from(ctx: click.Context, **overrides: Any) -> Settings:
    """The command's settings; says on stderr which data directory the command acts on, and why that one."""
    root = ctx.find_root()
    merged = {**(root.obj or {}), **{k: v for k, v in overrides.items() if v is not None}}
    settings = load_settings(**merged)
    origin = data_dir_origin(merged)
    if settings.log_format != "text":  # the group set up text logging before the settings were known
        logs.configure_logging(bool(root.meta.get("verbose")), settings.log_format)
        logs.event(log, "data_dir", path=str(settings.data_dir), origin=origin)
    else:
        click.echo(f"wasmfarm: data directory {settings.data_dir} (from {origin})", err=True)
    return settings


def reports_errors[F: Callable[..., Any]](func: F) -> F:
    """Print a FarmError's message (it says what, where and what to do) and exit 1; no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FarmError as exc:
            if logs.logging_json():  # stderr is a stream of JSON lines: the error is one of them
                logs.event(log, "error", logging.ERROR, error=type(exc).__name__, detail=str(exc))
            else:
                click.secho(f"error: {exc}", fg="red", err=True)
            raise SystemExit(1) from None

    return wrapper  # type: ignore[return-value]


def configure_logging(ctx: click.Context, verbose: bool) -> None:
    """Text logs until the settings are read (``settings_from`` switches to JSON when ``log_format`` says so)."""
    ctx.meta["verbose"] = verbose
    logs.configure_logging(verbose)
