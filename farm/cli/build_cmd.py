"""``wasmfarm builder``, ``build``, ``builds``, ``build-log`` and ``worker``: the build farm from the command line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from packaging.utils import canonicalize_name

from farm.build.image import ImageSpec
from farm.build.jobs import BuildFarm, Jobs, make_broker
from farm.build.plan import missing_executables, plan, select
from farm.cli.common import data_dir_option, reports_errors, settings_from
from farm.compat.service import scan_jobs
from farm.context import Farm
from farm.errors import FarmError, NotFound
from farm.recipe.loader import load_recipes
from farm.store.models import BuildState


@click.group()
def builder() -> None:
    """Builder images: root filesystems with python3.14, emscripten, pyodide-build and a cross-build environment."""


@builder.command("create")
@click.option(
    "--runtime", "runtime_version", default=None, help="Target runtime (default: the first configured)."
)
@click.option("--kind", type=click.Choice(["registry", "official"]), default="registry", show_default=True)
@click.option("--metadata-url", default=None, help="official: pyodide-build's xbuildenv metadata URL.")
@click.option(
    "--from", "base", default=None, help="Start from this image's root filesystem (no debootstrap)."
)
@click.option("--force", is_flag=True, help="Make a new image even if one with the same spec exists.")
@data_dir_option
@click.pass_context
@reports_errors
def builder_create(
    ctx: click.Context,
    runtime_version: str | None,
    kind: str,
    metadata_url: str | None,
    base: str | None,
    force: bool,
    data_dir: Path | None,
) -> None:
    """Make a builder image from Debian's archive and PyPI (about 3 minutes), or reuse the one made before.

    --kind official installs pyodide-build's own cross-build environment for the runtime from --metadata-url
    (pyodide-build's PYODIDE_CROSS_BUILD_ENV_METADATA_URL; its sha256 is checked) instead of assembling one."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    settings = farm.settings
    runtime = runtime_version or settings.runtimes[0]
    if not farm.runtimes.is_installed(runtime):
        raise NotFound(f"runtime {runtime} is not installed; `wasmfarm runtime add {runtime}` first")
    spec = ImageSpec(
        runtime=runtime,
        kind=kind,  # type: ignore[arg-type]
        suite=settings.debian_suite,
        debian_mirror=settings.debian_mirror,
        pip_index=settings.builder_pip_index,
        pyodide_build=settings.pyodide_build_version,
        metadata_url=metadata_url or settings.xbuildenv_metadata_url,
        base=base,
        force=force,
    )
    image = farm.builders.create(spec, farm.runtimes.path(runtime), lambda m: click.echo(f"  {m}", err=True))
    click.echo(image.identity)


@builder.command("list")
@data_dir_option
@click.pass_context
@reports_errors
def builder_list(ctx: click.Context, data_dir: Path | None) -> None:
    """Builder images: identity, kind, runtime, created, packages."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    for image in farm.builders.list():
        m = image.manifest
        click.echo(
            f"{image.identity}\t{image.kind}\t{image.runtime}\t{m.get('created_at', '')}\t"
            f"{len(m.get('debian', []))} debs\t{len(m.get('python', []))} python dists"
        )


@builder.command("export")
@click.argument("identity")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@data_dir_option
@click.pass_context
@reports_errors
def builder_export(ctx: click.Context, identity: str, output: Path, data_dir: Path | None) -> None:
    """Write the image as one .tar.zst (for an air-gapped site: `wasmfarm builder import` there)."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    click.echo(farm.builders.export(identity, output))


@builder.command("import")
@click.argument("tarball", type=click.Path(dir_okay=False, path_type=Path))
@data_dir_option
@click.pass_context
@reports_errors
def builder_import(ctx: click.Context, tarball: Path, data_dir: Path | None) -> None:
    """Import an exported image; its manifest must hash to its identity."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    click.echo(farm.builders.import_(tarball).identity)


@builder.command("remove")
@click.argument("identity")
@data_dir_option
@click.pass_context
@reports_errors
def builder_remove(ctx: click.Context, identity: str, data_dir: Path | None) -> None:
    """Delete a builder image."""
    Farm.open(settings_from(ctx, data_dir=data_dir)).builders.remove(identity)


def _jobs(farm: Farm) -> Jobs:
    return Jobs(BuildFarm(farm, farm.builds, farm.builders), make_broker(farm.settings.broker_url))


@click.command("build")
@click.argument("names", nargs=-1)
@click.option("--changed", is_flag=True, help="Every recipe whose build key has no successful build.")
@click.option("--all", "everything", is_flag=True, help="Every recipe (built ones are cache hits).")
@click.option("--force", is_flag=True, help="Build the named recipes even when their key was built before.")
@click.option(
    "--runtime", "runtime_version", default=None, help="Target runtime (default: the first configured)."
)
@click.option(
    "--recipes-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Default: recipes_dir.",
)
@click.option(
    "--builder", "builder_id", default=None, help="Builder image (default: the newest registry image)."
)
@click.option("--no-wait", is_flag=True, help="Queue and return (a worker elsewhere builds).")
@data_dir_option
@click.pass_context
@reports_errors
def build(
    ctx: click.Context,
    names: tuple[str, ...],
    changed: bool,
    everything: bool,
    force: bool,
    runtime_version: str | None,
    recipes_dir: Path | None,
    builder_id: str | None,
    no_wait: bool,
    data_dir: Path | None,
) -> None:
    """Build recipes into wheels for a runtime, verify them in Pyodide and publish them; show live progress.

    With no broker configured the builds run in this process; with broker_url set, workers (`wasmfarm worker`)
    run them and this command follows their progress.
    """
    if bool(names) + changed + everything != 1:
        raise click.UsageError("give recipe NAMES, --changed or --all")
    farm = Farm.open(settings_from(ctx, data_dir=data_dir, recipes_dir=recipes_dir))
    runtime = runtime_version or farm.settings.runtimes[0]
    recipes, problems = load_recipes(*farm.settings.recipe_dirs)
    image = farm.builders.load(builder_id) if builder_id else farm.builders.for_runtime(runtime)
    if image.runtime != runtime:
        raise FarmError(f"builder image {image.identity} targets runtime {image.runtime}, not {runtime}")
    # A recipe with a problem (and whatever needs it) is reported and left out; the rest is built.
    refused = {p.file.parent.name for p in problems}
    for problem in problems:
        click.secho(f"not built: {problem}", fg="yellow", err=True)
    unbuildable = missing_executables(recipes, image)
    for reason in unbuildable.values():
        click.secho(f"not built: {reason}", fg="yellow", err=True)
    recipes = [r for r in recipes if r.name not in unbuildable]
    named_refused = sorted(
        {canonicalize_name(n) for n in names} & {canonicalize_name(r) for r in refused | set(unbuildable)}
    )
    wanted = [n for n in names if canonicalize_name(n) not in named_refused]
    chosen = select(recipes, wanted, everything or changed) if wanted or not names else set()
    planned = plan(recipes, chosen, image, runtime, farm.builds, force=force)
    jobs = _jobs(farm)
    pending = [p for p in planned if p.build_id is not None]
    cached = len(planned) - len(pending)
    click.echo(
        f"{len(planned)} recipe(s): {len(pending)} to build, {cached} unchanged (cache hits)", err=True
    )
    for item in planned:
        if item.status == "queued" and item.build_id is not None:
            jobs.send(item.build_id, "build")
    failed_to_plan = bool(named_refused) or (bool(problems or unbuildable) and not names)
    if not pending or (no_wait and farm.settings.broker_url):
        for item in pending:
            click.echo(f"queued {item.recipe}: build {item.build_id}")
        if failed_to_plan:
            raise SystemExit(f"{len(problems) + len(unbuildable)} recipe problem(s); see above")
        return
    ids = [p.build_id for p in pending if p.build_id is not None]
    follow_builds(farm, jobs, ids)
    failed = [farm.builds.get(i) for i in ids]
    bad = [b for b in failed if b is not None and b.state != BuildState.SUCCEEDED]
    for row in bad:
        click.secho(f"{row.recipe}: build {row.id} {row.state}: {row.error}", fg="red", err=True)
    if bad or failed_to_plan:
        raise SystemExit(1)


def follow_builds(farm: Farm, jobs: Jobs, ids: list[int]) -> None:
    """Print each build's state as it changes until all have finished: run by this process's worker (no broker)
    or by the workers on the broker."""
    shown: dict[int, str] = {}

    def finished() -> bool:
        done = True
        for build_id in ids:
            row = farm.builds.get(build_id)
            assert row is not None
            status = f"{row.state} {row.step}".strip()
            if shown.get(build_id) != status:
                shown[build_id] = status
                click.echo(f"  {row.recipe:<24} build {build_id:<5} {status}", err=True)
            done = done and BuildState(row.state).finished
        return done

    if farm.settings.broker_url:
        while not finished():
            time.sleep(1)
    else:
        jobs.drain(finished)


@click.command("builds")
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=50, show_default=True)
@data_dir_option
@click.pass_context
@reports_errors
def builds(ctx: click.Context, as_json: bool, limit: int, data_dir: Path | None) -> None:
    """Recent builds: id, recipe, version, runtime, state, attempts, worker, seconds, wheel."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    rows = farm.builds.recent(limit=limit)
    if as_json:
        click.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    for r in rows:
        click.echo(
            f"{r.id}\t{r.recipe}\t{r.version}\t{r.runtime}\t{r.state}\t{r.step}\tattempts={r.attempts}\t"
            f"{r.worker or '-'}\t{r.build_seconds or '-'}\t{r.wheel_filename or '-'}"
        )


@click.command("build-log")
@click.argument("build_id", type=int)
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the build finishes.")
@data_dir_option
@click.pass_context
@reports_errors
def build_log(ctx: click.Context, build_id: int, follow: bool, data_dir: Path | None) -> None:
    """Print a build's log."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    row = farm.builds.get(build_id)
    if row is None:
        raise NotFound(f"no build {build_id}; `wasmfarm builds` lists them")
    path = farm.settings.data_dir / "builds" / str(build_id) / "build.log"
    offset = 0
    while True:
        if path.is_file():
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
                offset += len(chunk)
                click.echo(chunk.decode("utf-8", "replace"), nl=False)
        row = farm.builds.get(build_id)
        if not follow or row is None or BuildState(row.state).finished:
            break
        time.sleep(1)


@click.command("build-cancel")
@click.argument("build_ids", type=int, nargs=-1, required=True)
@data_dir_option
@click.pass_context
@reports_errors
def build_cancel(ctx: click.Context, build_ids: tuple[int, ...], data_dir: Path | None) -> None:
    """Cancel queued or running builds (a running one is killed by its worker within seconds)."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    for build_id in build_ids:
        row = farm.builds.get(build_id)
        if row is None:
            raise NotFound(f"no build {build_id}; `wasmfarm builds` lists them")
        if farm.builds.cancel(build_id):
            click.echo(f"build {build_id} ({row.recipe}) cancelled")
        else:
            click.echo(f"build {build_id} ({row.recipe}) is {row.state}: nothing to cancel", err=True)


@click.command("worker")
@click.option("--threads", default=1, show_default=True, help="Builds this worker runs at once.")
@click.option(
    "--check-threads",
    type=click.IntRange(min=0),
    default=None,
    help="Batches of /compat scans this worker runs at once (default: compat_workers; 0 takes none).",
)
@data_dir_option
@click.pass_context
@reports_errors
def worker(ctx: click.Context, threads: int, check_threads: int | None, data_dir: Path | None) -> None:
    """Run a build worker against the configured broker (broker_url), database and data directory; it runs the
    batches of /compat scans too."""
    farm = Farm.open(settings_from(ctx, data_dir=data_dir))
    if not farm.settings.broker_url:
        raise FarmError(
            "`wasmfarm worker` needs broker_url (redis://... or amqp://...); without one, builds run "
            "inside `wasmfarm serve` and `wasmfarm build`"
        )
    jobs = _jobs(farm)
    scans = scan_jobs(farm, jobs.broker, jobs.send)
    recovered = jobs.recover()
    resumed = scans.recover()
    click.echo(
        f"worker started; {recovered} unfinished build(s) and {resumed} scan batch(es) handed back to the queue",
        err=True,
    )
    instance = jobs.worker(threads)
    instance.start()
    check_threads = farm.settings.compat_workers if check_threads is None else check_threads
    checks = scans.worker(check_threads) if check_threads else None
    if checks is not None:
        checks.start()
    lease = farm.settings.build_lease_seconds
    try:
        while (
            True
        ):  # take over the builds and scan batches of workers that died (their heartbeat went silent)
            time.sleep(lease)
            taken = jobs.recover(stale_only=True)
            batches = scans.recover(stale_only=True)
            if taken or batches:
                click.echo(
                    f"took over {taken} build(s) and {batches} scan batch(es) of silent workers", err=True
                )
    except KeyboardInterrupt:
        pass
    finally:
        if checks is not None:
            scans.stop_worker(checks)
        instance.stop()
