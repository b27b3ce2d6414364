"""``wasmfarm runtime``, ``wasmfarm lock`` and ``wasmfarm explain``: runtimes and their lockfiles."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click
from packaging.utils import canonicalize_name

from farm.cli.common import data_dir_option, reports_errors, settings_from
from farm.context import Farm
from farm.errors import NotFound
from farm.mirror.mirror import parse_requirements, read_requirements_file
from farm.runtime.install import install_runtime
from farm.runtime.local_copy import fetch_runtime
from farm.runtime.lockfile import precedence_text
from farm.runtime.locking import lock_requirements, pylock_toml
from farm.runtime.target import target_for


@click.group()
def runtime() -> None:
    """Pyodide runtimes served at /pyodide/<version>/ (from the npm registry, integrity-checked)."""


@runtime.command("add")
@click.argument("versions", nargs=-1, required=True)
@click.option(
    "--distribution",
    "distribution",
    default=None,
    help="Also import Pyodide's release distribution (pyodide-VERSION.tar.bz2, a path or an http(s) URL): every "
    "file its lock lists is checked against the lock's sha256 and served by the mirror (origin pyodide).",
)
@click.option(
    "--sha256", "sha256", default=None, help="The archive's sha256 (as published with the release)."
)
@data_dir_option
@click.pass_context
@reports_errors
def add(
    ctx: click.Context,
    versions: tuple[str, ...],
    distribution: str | None,
    sha256: str | None,
    data_dir: Path | None,
) -> None:
    """Fetch pyodide@VERSION from the npm registry (setting npm_registry), verify its sha512 integrity, unpack it,
    mirror micropip and what it needs from the upstream index, and generate its pyodide-lock.json. With
    --distribution, also import the packages of Pyodide's own release archive for that version."""
    if (distribution or sha256) and len(versions) != 1:
        raise click.UsageError("--distribution imports the archive of one runtime: name one VERSION")
    if sha256 and not distribution:
        raise click.UsageError("--sha256 checks the archive of --distribution: give both")
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    for version in versions:
        if not (distribution and farm.runtimes.is_installed(version)):
            installed, report = install_runtime(farm, version)
            click.echo(f"runtime {installed.version}: {installed.integrity}")
            click.echo(
                f"  essential wheels: {report.downloaded} downloaded, {report.present} present", err=True
            )
            for error in report.errors:
                click.secho(f"  warning: {error}", fg="yellow", err=True)
        if distribution:
            _import_distribution(farm, version, distribution, sha256)


def _import_distribution(farm: Farm, version: str, source: str, sha256: str | None) -> None:
    from farm.runtime.release import import_distribution

    report = import_distribution(
        source,
        version,
        expected_sha256=sha256,
        runtimes=farm.runtimes,
        ingestor=farm.ingestor,
        blobs=farm.blobs,
        timeout=farm.settings.http_timeout,
    )
    names = [canonicalize_name(f.split("-", 1)[0]) for f in report.wheels_added + report.wheels_present]
    farm.publisher.refresh(names)
    farm.locks.refresh([version])
    mb = report.archive_bytes / 1e6
    click.echo(
        f"distribution {source} (sha256 {report.archive_sha256}, {mb:.1f} MB): {report.verified} files verified "
        f"against its lock; wheels: {len(report.wheels_added)} added, {len(report.wheels_present)} present; "
        f"{len(report.other_files)} other files (shared libraries, test archives)"
    )
    if report.runtime_files_checked:
        click.echo(
            f"  runtime files as the npm package's: {', '.join(report.runtime_files_checked)} (served from npm)",
            err=True,
        )
    for kept in report.kept_existing:
        click.secho(
            f"  kept: {kept} has the same name and other content; published files never change",
            fg="yellow",
            err=True,
        )
    click.echo(f"  {mb / max(report.seconds, 1e-9):.1f} MB/s ({report.seconds:.1f} s)", err=True)


@runtime.command("list")
@click.option("--packages", is_flag=True, help="Also list each locked package with its version and origin.")
@data_dir_option
@click.pass_context
@reports_errors
def list_(ctx: click.Context, packages: bool, data_dir: Path | None) -> None:
    """Installed runtimes with their Python, ABI and integrity, and where their locked packages come from."""
    from farm.runtime.lock_records import read_index_record
    from farm.runtime.release import read_record

    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    for item in farm.runtimes.installed():
        info = item.info
        click.echo(
            f"{item.version}\tPython {info.get('python')}\tABI {info.get('abi_version')}\t"
            f"{info.get('platform')}\t{item.installed_at}\t{item.integrity}"
        )
        origins = locked_origins(farm, item.version)
        counts = Counter(origin for _name, _version, origin in origins)
        order = [*farm.locks.precedence, *sorted(set(counts) - set(farm.locks.precedence))]
        click.echo(
            f"  lock: {len(origins)} packages: " + ", ".join(f"{o} {counts[o]}" for o in order if counts[o])
        )
        record = read_record(farm.runtimes.meta, item.version)
        if record.get("source"):
            click.echo(
                f"  distribution: {record['source']} (sha256 {record['archive_sha256']}), imported "
                f"{record['imported_at']}, {len(record['packages'])} packages"
            )
        trusted = read_index_record(farm.runtimes.meta, item.version)
        for url, seen in trusted["locks"].items():
            described = [
                e for e in trusted["packages"].values() if e.get("listed_by") == f"the trusted lock {url}"
            ]
            click.echo(
                f"  trusted lock: {url} (sha256 {seen['sha256']}), read {seen['read_at']}, metadata of "
                f"{len(described)} files"
            )
        if packages:
            for name, version, origin in origins:
                click.echo(f"  {name}\t{version}\t{origin}")


def locked_origins(farm: Farm, version: str) -> list[tuple[str, str, str]]:
    """(name, version, origin) of every package of the runtime's generated lock."""
    built = farm.locks.build(version)
    found = []
    for name, package in built.lock["packages"].items():
        chosen = [c for c in built.choices.get(name, []) if c.chosen and c.filename == package["file_name"]]
        found.append((name, str(package["version"]), chosen[0].origin if chosen else "?"))
    return found


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
    built = farm.locks.build(version, also=[project])
    choices = built.choices.get(canonicalize_name(project))
    if not choices:
        raise NotFound(f"the mirror has no wheel of {project!r}; `wasmfarm mirror {project}` fetches it")
    for choice in sorted(choices, key=lambda c: not c.chosen):
        mark = "chosen " if choice.chosen else "skipped"
        click.echo(f"{mark}  {choice.filename}: {choice.reason} [{choice.origin}]")
    click.echo(f"precedence (setting lock_precedence): {precedence_text(farm.locks.precedence)}", err=True)
