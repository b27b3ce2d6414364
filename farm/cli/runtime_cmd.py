"""``wasmfarm runtime``, ``wasmfarm lock`` and ``wasmfarm explain``: runtimes and their lockfiles."""

from __future__ import annotations

import json
from pathlib import Path

import click

from farm.cli.common import data_dir_option, reports_errors, settings_from
from farm.context import Farm
from farm.errors import NotFound
from farm.mirror.mirror import parse_requirements, read_requirements_file
from farm.runtime.install import install_runtime
from farm.runtime.local_copy import fetch_runtime
from farm.runtime.locking import lock_requirements, pylock_toml
from farm.runtime.target import target_for


@click.group()
def runtime() -> None:
    """Pyodide runtimes served at /pyodide/<version>/ (from the npm registry, integrity-checked)."""


@runtime.command("add")
@click.argument("versions", nargs=-1, required=True)
@data_dir_option
@click.pass_context
@reports_errors
def add(ctx: click.Context, versions: tuple[str, ...], data_dir: Path | None) -> None:
    """Fetch pyodide@VERSION from the npm registry (setting npm_registry), verify its sha512 integrity, unpack it,
    mirror micropip and what it needs from the upstream index, and generate its pyodide-lock.json."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    for version in versions:
        installed, report = install_runtime(farm, version)
        click.echo(f"runtime {installed.version}: {installed.integrity}")
        click.echo(f"  essential wheels: {report.downloaded} downloaded, {report.present} present", err=True)
        for error in report.errors:
            click.secho(f"  warning: {error}", fg="yellow", err=True)


@runtime.command("list")
@data_dir_option
@click.pass_context
@reports_errors
def list_(ctx: click.Context, data_dir: Path | None) -> None:
    """Installed runtimes with their Python, ABI and integrity."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    for item in farm.runtimes.installed():
        info = item.info
        click.echo(
            f"{item.version}\tPython {info.get('python')}\tABI {info.get('abi_version')}\t"
            f"{info.get('platform')}\t{item.installed_at}\t{item.integrity}"
        )


@runtime.command("remove")
@click.argument("version")
@data_dir_option
@click.pass_context
@reports_errors
def remove(ctx: click.Context, version: str, data_dir: Path | None) -> None:
    """Stop serving a runtime and delete its files (mirrored wheels stay in the index)."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    farm.runtimes.remove(version)
    click.echo(f"runtime {version} removed")


@runtime.command("fetch")
@click.argument("version")
@click.option(
    "--to",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to copy the runtime into (made if missing; intact files are kept).",
)
@click.option(
    "--server",
    default=None,
    help="URL of the wasmfarm server to copy from. Default: the setting public_url (http://<host>:<port>/).",
)
@click.option(
    "--package",
    "packages",
    multiple=True,
    help="Also copy this locked package's wheel and its lock dependencies (repeatable; for packageCacheDir).",
)
@click.option(
    "--token",
    envvar="WASMFARM_TOKEN",
    default=None,
    help="A read token, for a server with require_read_token (or $WASMFARM_TOKEN).",
)
@click.pass_context
@reports_errors
def fetch(
    ctx: click.Context,
    version: str,
    directory: Path,
    server: str | None,
    packages: tuple[str, ...],
    token: str | None,
) -> None:
    """Copy runtime VERSION's files and lock from a wasmfarm server into a local directory, each checked against
    the sha256 the server lists, for Node: its loadPyodide needs a filesystem indexURL."""
    settings = settings_from(ctx)
    copy = fetch_runtime(
        server or settings.resolved_public_url,
        version,
        directory,
        packages,
        timeout=settings.http_timeout,
        token=token,
    )
    click.echo(
        f"runtime {version} in {copy.directory}: {len(copy.downloaded)} files fetched, {len(copy.kept)} kept"
        + (f", wheels: {', '.join(copy.wheels)}" if copy.wheels else "")
    )
    index_url = json.dumps(str(copy.directory.resolve()) + "/")
    click.echo(
        f"node: loadPyodide({{indexURL: {index_url}, packageCacheDir: {index_url}, "
        f'packageBaseUrl: "{copy.package_base_url}"}})',
        err=True,
    )


@click.command()
@click.argument("requirements", nargs=-1)
@click.option(
    "-r",
    "--requirement",
    "files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Requirements file (repeatable).",
)
@click.option("--runtime", "version", required=True, help="Runtime to lock for, e.g. 314.0.7.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write pyodide-lock.json here (default: standard output).",
)
@click.option(
    "--pylock",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the selection as a PEP 751 pylock.toml.",
)
@data_dir_option
@click.pass_context
@reports_errors
def lock(
    ctx: click.Context,
    requirements: tuple[str, ...],
    files: tuple[str, ...],
    version: str,
    output: Path | None,
    pylock: Path | None,
    data_dir: Path | None,
) -> None:
    """Resolve REQUIREMENTS against what this mirror holds for a runtime and write a pyodide-lock.json holding
    exactly that closure plus what the runtime needs to boot micropip. Unsatisfiable requests are explained."""
    settings = settings_from(ctx, data_dir=data_dir)
    farm = Farm.open(settings)
    lines = [("command line", i + 1, r) for i, r in enumerate(requirements)]
    lines += [line for f in files for line in read_requirements_file(f)]
    wanted = parse_requirements(lines)
    if not wanted:
        raise click.UsageError("name requirements or give -r FILE")
    lock_, selected = lock_requirements(wanted, version, farm.locks)
    text = json.dumps(lock_, indent=1)
    if output:
        output.write_text(text)
        click.echo(f"wrote {output} ({len(lock_['packages'])} packages)", err=True)
    else:
        click.echo(text)
    if pylock:
        pylock.write_text(pylock_toml(selected, target_for(version), farm.publisher.pages.public_url))
        click.echo(f"wrote {pylock}", err=True)


@click.command()
@click.argument("project")
@click.option("--runtime", "version", required=True, help="Runtime whose lock to explain, e.g. 314.0.7.")
@data_dir_option
@click.pass_context
@reports_errors
def explain(ctx: click.Context, project: str, version: str, data_dir: Path | None) -> None:
    """Explain which file of PROJECT the runtime's pyodide-lock.json lists, and why the others are not chosen."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    built = farm.locks.build(version)
    from packaging.utils import canonicalize_name

    choices = built.choices.get(canonicalize_name(project))
    if not choices:
        raise NotFound(f"the mirror has no wheel of {project!r}; `wasmfarm mirror {project}` fetches it")
    for choice in sorted(choices, key=lambda c: not c.chosen):
        mark = "chosen " if choice.chosen else "skipped"
        click.echo(f"{mark}  {choice.filename}: {choice.reason}")
