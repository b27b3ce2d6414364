"""Generated recipes (written on request by the compatibility oracle, as ``wasmfarm recipes new`` writes them) and
their promotion into the hand-written recipes directory, where a person maintains them from then on."""

from __future__ import annotations

import shutil
from pathlib import Path

from packaging.utils import canonicalize_name

from farm.errors import FileConflict, NotFound


def promote(name: str, generated_dir: Path, recipes_dir: Path, *, force: bool = False) -> Path:
    """Move ``<generated_dir>/<name>/`` to ``<recipes_dir>/<name>/``; returns the new meta.yaml. The recipe parses
    the same there, so its build key is unchanged and its builds stay cache hits."""
    directory = canonicalize_name(name)
    source = generated_dir / directory
    if not (source / "meta.yaml").is_file():
        raise NotFound(
            f"no generated recipe {name!r} in {generated_dir}; `wasmfarm check --build {name}` writes one"
        )
    target = recipes_dir / directory
    if target.exists():
        if not force:
            raise FileConflict(
                f"{target} exists already; pass --force to replace it with the generated recipe"
            )
        shutil.rmtree(target)
    recipes_dir.mkdir(parents=True, exist_ok=True)
    staging = recipes_dir / f".{directory}.promoting"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    staging.rename(target)
    shutil.rmtree(source)
    return target / "meta.yaml"
