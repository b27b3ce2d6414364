"""Build order between recipes, from their host and run requirements (``graphlib``, a cycle named by its path)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from graphlib import CycleError, TopologicalSorter

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from farm.errors import RecipeInvalid
from farm.recipe.loader import LoadedRecipe


def dependencies(recipe: LoadedRecipe, known: set[str], *, host_only: bool = False) -> set[str]:
    """Recipes this one needs built first: its host and run requirements that are recipes too (``host_only``:
    those it compiles against)."""
    found: set[str] = set()
    run = () if host_only else recipe.recipe.requirements.run
    for line in (*recipe.recipe.requirements.host, *run):
        try:
            name: str = canonicalize_name(Requirement(line).name)
        except InvalidRequirement:
            name = canonicalize_name(line.split()[0]) if line.split() else ""
        if name in known and name != recipe.name:
            found.add(name)
    return found


def graph(recipes: Sequence[LoadedRecipe]) -> dict[str, set[str]]:
    known = {r.name for r in recipes}
    return {r.name: dependencies(r, known) for r in recipes}


def build_order(recipes: Sequence[LoadedRecipe]) -> list[str]:
    """Dependencies first; a cycle is an error that shows it (``a -> b -> a``)."""
    try:
        return list(TopologicalSorter(graph(recipes)).static_order())
    except CycleError as exc:
        cycle = list(reversed(exc.args[1]))
        raise RecipeInvalid(
            f"recipes depend on each other in a cycle: {' -> '.join(cycle)}; break it by removing one of these "
            "requirements (a host requirement that is only needed at run time belongs in requirements/run of a "
            "package that is built later)"
        ) from None


def dependents(recipes: Sequence[LoadedRecipe], changed: Iterable[str]) -> set[str]:
    """The changed recipes and every recipe that depends on them, directly or not."""
    edges = graph(recipes)
    result: set[str] = {canonicalize_name(c) for c in changed}
    grew = True
    while grew:
        grew = False
        for name, needs in edges.items():
            if name not in result and needs & result:
                result.add(name)
                grew = True
    return result
