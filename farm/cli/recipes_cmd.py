"""``wasmfarm recipes``: lint recipes and export their JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import click

from farm.cli.common import reports_errors, settings_from
from farm.errors import RecipeInvalid
from farm.mirror.upstream import UpstreamIndex
from farm.recipe.generated import promote as promote_recipe
from farm.recipe.graph import build_order
from farm.recipe.loader import load_recipe, load_recipes
from farm.recipe.skeleton import write_skeleton
from farm.recipe.spec import Recipe
from farm.store.blobs import BlobStore

DEFAULT_RECIPES = Path(__file__).resolve().parents[2] / "recipes"


@click.group()
def recipes() -> None:
    """Recipes: recipes/<name>/meta.yaml in the pyodide-recipes format."""


@recipes.command("lint")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RECIPES)
@reports_errors
def lint(directory: Path) -> None:
    """Check every recipe under DIRECTORY and report every problem at once, each with file:line and a fix."""
    loaded, problems = load_recipes(directory)
    messages = [str(problem) for problem in problems]
    order: list[str] = []
    try:
        order = build_order(loaded)
    except RecipeInvalid as exc:
        messages.append(f"{directory}: {exc}")
    for message in messages:
        click.echo(message, err=True)
    if messages:
        raise SystemExit(f"{len(messages)} problem(s) in {directory}")
    click.echo(f"{len(loaded)} recipe(s) OK; build order: {', '.join(order) or '(none)'}")


@recipes.command("schema")
def schema() -> None:
    """Print the JSON Schema of meta.yaml (docs/recipe-schema.json is this output)."""
    click.echo(json.dumps(Recipe.model_json_schema(by_alias=True), indent=2, sort_keys=True))


@recipes.command("new")
@click.argument("project")
@click.option("--version", default=None, help="Version to take (default: the newest with an sdist).")
@click.option("--upstream", default=None, help="Index to read (default: setting upstream_index).")
@click.option(
    "--recipes-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_RECIPES,
    help="Where recipes live.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing recipe.")
@click.pass_context
@reports_errors
def new(
    ctx: click.Context,
    project: str,
    version: str | None,
    upstream: str | None,
    recipes_dir: Path,
    force: bool,
) -> None:
    """Write recipes/<project>/meta.yaml from the upstream index's newest sdist (URL, sha256, imports, run
    requirements), then lint it."""
    settings = settings_from(ctx, upstream_index=upstream)
    index = UpstreamIndex(settings.upstream_index, timeout=settings.http_timeout)
    try:
        made = write_skeleton(index, BlobStore(settings.blob_dir), project, recipes_dir, version, force)
    finally:
        index.close()
    loaded, problems = load_recipe(made.path)
    for problem in problems:
        click.echo(str(problem), err=True)
    click.echo(
        f"wrote {made.path} ({made.name} {made.version}; imports: {', '.join(made.imports) or 'none found'})"
    )
    if problems or loaded is None:
        raise SystemExit(1)


@recipes.command("promote")
@click.argument("name")
@click.option(
    "--recipes-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Hand-written recipes to move it into (default: setting recipes_dir).",
)
@click.option("--force", is_flag=True, help="Replace a hand-written recipe of the same name.")
@click.pass_context
@reports_errors
def promote(ctx: click.Context, name: str, recipes_dir: Path | None, force: bool) -> None:
    """Move a generated recipe (written by `wasmfarm check --build`) into the hand-written recipes, then lint it."""
    settings = settings_from(ctx, recipes_dir=recipes_dir)
    made = promote_recipe(name, settings.resolved_generated_recipes_dir, settings.recipes_dir, force=force)
    loaded, problems = load_recipe(made)
    for problem in problems:
        click.echo(str(problem), err=True)
    click.echo(f"promoted {name} to {made}")
    if problems or loaded is None:
        raise SystemExit(1)
