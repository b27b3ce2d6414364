"""What every command shares: building the settings once from options, and turning errors into exit codes."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from farm.errors import FarmError
from farm.settings import Settings, data_dir_origin, load_settings

F = TypeVar("F", bound=Callable[..., Any])


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
    click.echo(f"wasmfarm: data directory {settings.data_dir} (from {data_dir_origin(merged)})", err=True)
    return settings


def reports_errors[F: Callable[..., Any]](func: F) -> F:
    """Print a FarmError's message (it says what, where and what to do) and exit 1; no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FarmError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            raise SystemExit(1) from None

    return wrapper  # type: ignore[return-value]


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
