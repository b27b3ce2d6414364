"""Loading and linting recipes: every problem at once, each with file:line, the field, and what to write instead."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ValidationError

from farm.recipe.executables import unsupported_executable
from farm.recipe.spec import Recipe

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int
    field: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        text = f"{where}: {self.field + ': ' if self.field else ''}{self.message}"
        return f"{text} ({self.hint})" if self.hint else text


@dataclass(frozen=True)
class LoadedRecipe:
    path: Path  # the meta.yaml
    recipe: Recipe

    @property
    def name(self) -> str:
        return canonicalize_name(self.recipe.package.name)

    @property
    def directory(self) -> Path:
        return self.path.parent


def _positions(node: yaml.Node | None, prefix: Loc = ()) -> dict[Loc, int]:
    """Line of every key (and list item) in a YAML document, by its path."""
    lines: dict[Loc, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, str(key.value))
            lines[path] = key.start_mark.line + 1
            lines.update(_positions(value, path))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            path = (*prefix, index)
            lines[path] = item.start_mark.line + 1
            lines.update(_positions(item, path))
    return lines


def _line(lines: dict[Loc, int], loc: Loc) -> int:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def _model_for(loc: Loc) -> type[BaseModel] | None:
    model: type[BaseModel] = Recipe
    for part in loc:
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        annotation = getattr(field, "annotation", None) if field else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return model if part == loc[-1] else None
    return model


def _hint(error: Any) -> str:
    loc: Loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden" and loc:
        model = _model_for(loc[:-1]) if len(loc) > 1 else Recipe
        if model is None:
            return ""
        known = [f.alias or n for n, f in model.model_fields.items()]
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        return f"did you mean {close[0]!r}?" if close else f"allowed here: {', '.join(known)}"
    if error["type"] == "missing":
        return f"add '{loc[-1]}:'"
    if error["type"] == "literal_error":
        return f"use one of {error.get('ctx', {}).get('expected', '')}"
    return ""


def load_recipe(path: Path) -> tuple[LoadedRecipe | None, list[Problem]]:
    """Parse one meta.yaml; return the recipe (or None) and every problem found in it."""
    try:
        text = path.read_text()
    except OSError as exc:
        return None, [Problem(path, 1, "", f"cannot read: {exc.strerror}")]
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        return None, [
            Problem(path, line, "", f"not valid YAML: {exc.problem}", "check the indentation and quoting")
        ]
    if not isinstance(data, dict):
        return None, [
            Problem(path, 1, "", "a recipe is a YAML mapping with 'package:' and 'source:' sections")
        ]
    lines = _positions(node)
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc: Loc = tuple(error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(
                Problem(path, _line(lines, loc), "/".join(str(p) for p in loc), message, _hint(error))
            )
        return None, problems
    loaded = LoadedRecipe(path, recipe)
    return loaded, _file_problems(loaded, lines)


def _file_problems(loaded: LoadedRecipe, lines: dict[Loc, int]) -> list[Problem]:
    """What the spec cannot see: the directory name, and files the recipe refers to."""
    problems = []
    recipe, path = loaded.recipe, loaded.path
    if canonicalize_name(path.parent.name) != loaded.name:
        problems.append(
            Problem(
                path,
                _line(lines, ("package", "name")),
                "package/name",
                f"{recipe.package.name!r} does not match the recipe directory {path.parent.name!r}",
                f"rename the directory to recipes/{loaded.name}/",
            )
        )
    for index, patch in enumerate(recipe.source.patches):
        if not (path.parent / patch).is_file():
            problems.append(
                Problem(
                    path,
                    _line(lines, ("source", "patches", index)),
                    f"source/patches/{index}",
                    f"patch {patch!r} does not exist",
                    f"add {path.parent / patch}",
                )
            )
    for index, (source, _destination) in enumerate(recipe.source.extras):
        if not (path.parent / source).exists():
            problems.append(
                Problem(
                    path,
                    _line(lines, ("source", "extras", index)),
                    f"source/extras/{index}",
                    f"extra file {source!r} does not exist",
                    f"add {path.parent / source}",
                )
            )
    if recipe.source.path is not None and not (path.parent / recipe.source.path).is_dir():
        problems.append(
            Problem(
                path,
                _line(lines, ("source", "path")),
                "source/path",
                f"source directory {recipe.source.path!r} does not exist",
            )
        )
    return problems


def recipe_files(roots: tuple[Path, ...]) -> list[Path]:
    """The ``meta.yaml`` of every recipe directory under ``roots``; on a name clash the earlier root wins (the
    hand-written recipes before the generated ones)."""
    chosen: dict[str, Path] = {}
    for root in roots:
        for meta in sorted(root.glob("*/meta.yaml")):
            chosen.setdefault(canonicalize_name(meta.parent.name), meta)
    return sorted(chosen.values())


def load_recipes(root: Path, *more: Path) -> tuple[list[LoadedRecipe], list[Problem]]:
    """Every recipe under ``root`` (``<root>/<name>/meta.yaml``) and the ``more`` roots that can be built, and every
    problem found. A name in an earlier root hides the same name in a later one.

    A recipe with a problem is left out, and so is every recipe that needs it; the others are not affected (one
    broken recipe must not stop a farm from building the rest)."""
    loaded: list[LoadedRecipe] = []
    problems: list[Problem] = []
    broken: set[str] = set()
    for meta in recipe_files((root, *more)):
        recipe, found = load_recipe(meta)
        problems += found
        if recipe is None:
            broken.add(canonicalize_name(meta.parent.name))
        elif found:
            broken.add(recipe.name)
        else:
            loaded.append(recipe)
    problems += _set_problems(loaded, broken, root)
    return _without_broken(loaded, broken, problems), problems


def _set_problems(recipes: list[LoadedRecipe], broken: set[str], root: Path) -> list[Problem]:
    """What only the whole set shows: a host requirement that is no recipe here (it is compiled for the target,
    so nothing else can provide it), an executable no builder has."""
    known = {r.name for r in recipes} | broken
    problems = []
    for recipe in recipes:
        lines = _positions(yaml.compose(recipe.path.read_text()))
        for index, line in enumerate(recipe.recipe.requirements.host):
            name = _requirement_name(line)
            if name not in known:
                problems.append(
                    Problem(
                        recipe.path,
                        _line(lines, ("requirements", "host", index)),
                        f"requirements/host/{index}",
                        f"{line!r} is not a recipe in {root}: a host requirement is compiled for the target, so "
                        "it must be a recipe here",
                        f"add {root / name}/meta.yaml, or move it to requirements/run if it is needed only at "
                        "run time",
                    )
                )
        for index, executable in enumerate(recipe.recipe.requirements.executable):
            reason = unsupported_executable(executable)
            if reason:
                problems.append(
                    Problem(
                        recipe.path,
                        _line(lines, ("requirements", "executable", index)),
                        f"requirements/executable/{index}",
                        f"{executable!r}: {reason}, so this recipe cannot be built here",
                        "use a recipe whose source is a wheel built elsewhere (source/url ending in .whl)",
                    )
                )
    return problems


def _without_broken(
    recipes: list[LoadedRecipe], broken: set[str], problems: list[Problem]
) -> list[LoadedRecipe]:
    """The recipes that neither have a problem nor need one that has (directly or not)."""
    bad = set(broken) | {p.file.parent.name for p in problems}
    bad = {canonicalize_name(b) for b in bad}
    grew = True
    while grew:
        grew = False
        for recipe in recipes:
            if recipe.name in bad:
                continue
            needs = {
                _requirement_name(r)
                for r in (*recipe.recipe.requirements.host, *recipe.recipe.requirements.run)
            }
            blocked = sorted(needs & bad)
            if blocked:
                bad.add(recipe.name)
                problems.append(
                    Problem(
                        recipe.path,
                        1,
                        "requirements",
                        f"needs recipe {', '.join(blocked)}, which has problems; it is not built until they are fixed",
                    )
                )
                grew = True
    return [r for r in recipes if r.name not in bad]


def _requirement_name(line: str) -> str:
    try:
        return canonicalize_name(Requirement(line).name)
    except InvalidRequirement:
        return canonicalize_name(line.split(maxsplit=1)[0]) if line.split() else ""
