"""The content-addressed build key: what a build's result depends on, hashed. Same key, same wheel (builds are
reproducible with ``SOURCE_DATE_EPOCH``), so a key that already has a successful build is not built again.

Inputs: the recipe as parsed (so formatting and comments do not count), the bytes of its patches, extras and test
files (every ``test_*.py`` beside it), the source's sha256 (or the tree digest of an in-tree source), the builder
image identity (which pins every package of the toolchain and the flags), the target runtime, the farm's
build-procedure version, and the keys of the recipes it depends on (so a change ripples to its dependents).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

from farm.build.source import tree_digest
from farm.recipe.graph import build_order, graph
from farm.recipe.loader import LoadedRecipe

# 2: shared libraries vendored, cross-build packages, PKG_VERSION in the environment; 3: build/post, unvendored
# tests, constraints, $PKGDIR, every test_*.py of the recipe, wheel sources
PROCEDURE_VERSION = 3


def _file_digest(recipe: LoadedRecipe, relative: str) -> str:
    path = recipe.directory / relative
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def recipe_key(recipe: LoadedRecipe, builder: str, runtime: str, dependency_keys: Sequence[str]) -> str:
    spec = recipe.recipe
    source = spec.source
    test_files = sorted(recipe.directory.glob("test_*.py"))
    body = {
        "procedure": PROCEDURE_VERSION,
        "recipe": spec.model_dump(mode="json", by_alias=True),
        "source": source.sha256 or tree_digest(recipe.directory / (source.path or ".")),
        "patches": [_file_digest(recipe, p) for p in source.patches],
        "extras": [_file_digest(recipe, s) for s, _ in source.extras],
        "test_files": {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in test_files},
        "builder": builder,
        "runtime": runtime,
        "dependencies": sorted(dependency_keys),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def all_keys(recipes: Sequence[LoadedRecipe], builder: str, runtime: str) -> Mapping[str, str]:
    """Every recipe's key, dependencies first."""
    by_name = {r.name: r for r in recipes}
    edges = graph(recipes)
    keys: dict[str, str] = {}
    for name in build_order(recipes):
        keys[name] = recipe_key(by_name[name], builder, runtime, [keys[d] for d in edges[name]])
    return keys
