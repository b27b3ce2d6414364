"""What a ``wasmfarm build`` request means: which recipes, in which order, and which of them need building at all.

A recipe whose key already has a successful build is a cache hit (its wheel is published already); one whose key
has a queued or running build joins that build instead of starting another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from farm.build.image import BuilderImage
from farm.build.key import all_keys
from farm.build.state import BuildStates
from farm.errors import NotFound
from farm.recipe.graph import build_order, dependents, graph
from farm.recipe.loader import LoadedRecipe


@dataclass(frozen=True)
class PlannedBuild:
    recipe: str
    key: str
    build_id: int | None  # None: cache hit, nothing to do
    status: str  # cached | queued | joined


def select(recipes: Sequence[LoadedRecipe], names: Sequence[str], everything: bool) -> set[str]:
    known = {r.name for r in recipes if not r.recipe.package.disabled}
    if everything:
        return known
    wanted: set[str] = {canonicalize_name(n) for n in names}
    missing = sorted(wanted - {r.name for r in recipes})
    if missing:
        raise NotFound(f"no recipe named {', '.join(missing)} (recipes are the directories with a meta.yaml)")
    # A named recipe brings the recipes it depends on (they are cache hits when built already).
    edges = graph(recipes)
    closure: set[str] = set()
    todo: list[str] = list(wanted)
    while todo:
        name = todo.pop()
        if name not in closure:
            closure.add(name)
            todo += edges.get(name, set())
    return closure & known


def plan(
    recipes: Sequence[LoadedRecipe],
    chosen: set[str],
    image: BuilderImage,
    runtime: str,
    states: BuildStates,
    *,
    force: bool = False,
) -> list[PlannedBuild]:
    if not chosen:
        return []
    keys = all_keys(recipes, image.identity, runtime)
    by_name = {r.name: r for r in recipes}
    forced = dependents(recipes, chosen) & chosen if force else set()
    planned: list[PlannedBuild] = []
    for name in build_order(recipes):
        if name not in chosen:
            continue
        key = keys[name]
        active = states.active_for_key(key)
        if active is not None:
            planned.append(PlannedBuild(name, key, active.id, "joined"))
        elif name not in forced and states.succeeded_for_key(key) is not None:
            planned.append(PlannedBuild(name, key, None, "cached"))
        else:
            recipe = by_name[name]
            build = states.create(name, recipe.recipe.package.version, runtime, key, image.identity)
            planned.append(PlannedBuild(name, key, build.id, "queued"))
    return planned


def missing_executables(recipes: Sequence[LoadedRecipe], image: BuilderImage) -> dict[str, str]:
    """Recipes that ask for an executable the builder image lacks (and the recipes that need them), with the
    reason: such a build could not succeed, so it is not started."""
    refused = {}
    for recipe in recipes:
        lacking = [e for e in recipe.recipe.requirements.executable if not image.has_executable(e)]
        if lacking:
            refused[recipe.name] = (
                f"{recipe.path}: requirements/executable: builder image {image.identity} has no "
                f"{', '.join(lacking)} on its PATH, so the build is not started"
            )
    for name in sorted(dependents(recipes, refused) - set(refused)):
        refused[name] = f"{name} needs recipe(s) the builder cannot build: {', '.join(sorted(refused))}"
    return refused
