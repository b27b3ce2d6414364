"""``wasmfarm recipes``: lint recipes and export their JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import click

from farm.cli.common import reports_errors
from farm.errors import RecipeInvalid
from farm.recipe.graph import build_order
from farm.recipe.loader import load_recipes
from farm.recipe.spec import Recipe

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
