"""Build on request: a buildable verdict becomes a generated recipe (as ``wasmfarm recipes new`` writes one) and a
build through the existing farm (``farm.build.plan``: sandbox, checks, verification, publication).

Generated recipes live in their own directory (setting ``generated_recipes_dir``), apart from the hand-written
``recipes/``, which wins on a name clash; ``wasmfarm recipes promote NAME`` moves one over. A second request for the
same thing joins the first: ``plan`` joins a queued or running build of the same build key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from farm.build.image import BuilderStore
from farm.build.plan import missing_executables, plan, select
from farm.build.state import BUILD, BuildStates
from farm.compat.verdict import BuildRef, Code, Status, Verdict
from farm.errors import FarmError, RecipeInvalid
from farm.mirror.upstream import UpstreamIndex
from farm.recipe.loader import load_recipes
from farm.recipe.skeleton import write_skeleton
from farm.store.blobs import BlobStore
from farm.store.models import Build

LOG_TAIL = 15


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


class RecipeBuilds:
    """The recipes and builds the oracle sees (its ``BuildLookup``)."""

    def __init__(self, recipe_dirs: Sequence[Path], states: BuildStates, builds_dir: Path) -> None:
        self.recipe_dirs = list(recipe_dirs)
        self.states = states
        self.builds_dir = builds_dir

    def recipe(self, project: str) -> str | None:
        """The recipe that builds ``project``: the hand-written one, else a generated one."""
        for directory in self.recipe_dirs:
            meta = directory / canonicalize_name(project) / "meta.yaml"
            if meta.is_file():
                return str(meta)
        return None

    def latest(self, project: str, version: str, runtime: str) -> BuildRef | None:
        """The newest build of ``project``'s recipe at ``version`` for ``runtime``."""
        for build in self.states.recent(recipe=canonicalize_name(project), limit=20):
            if build.runtime == runtime and _same_version(build.version, version):
                return self.ref(build)
        return None

    def ref(self, build: Build) -> BuildRef:
        assert build.id is not None
        log = self.builds_dir / str(build.id) / "build.log"
        tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL:] if log.is_file() else []
        return BuildRef(
            id=build.id,
            state=build.state,
            step=build.step,
            url=f"/builds/{build.id}",
            recipe=self.recipe(build.recipe) or "",
            error=build.error,
            log_tail=tuple(tail),
        )


@dataclass(frozen=True)
class BuildTicket:
    """What a build request did."""

    project: str
    version: str
    runtime: str
    recipe: str  # the meta.yaml built
    generated: bool  # written for this request (into generated_recipes_dir)
    build_id: int | None  # None: built already (a cache hit)
    status: str  # queued | joined | cached
    url: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class BuildRequests:
    def __init__(
        self,
        *,
        upstream: UpstreamIndex,
        blobs: BlobStore,
        recipes_dir: Path,
        generated_dir: Path,
        builders: BuilderStore,
        states: BuildStates,
        send: Callable[[int, str], None],
    ) -> None:
        self.upstream = upstream
        self.blobs = blobs
        self.recipes_dir = recipes_dir
        self.generated_dir = generated_dir
        self.builders = builders
        self.states = states
        self.send = send

    def request(self, verdict: Verdict) -> BuildTicket:
        """Queue (or join) the build that a buildable verdict, or its buildable dependency, calls for."""
        subject = verdict
        while subject.code is Code.DEPENDENCY_BUILDABLE and subject.evidence.dependency is not None:
            subject = subject.evidence.dependency
        if subject.version is None or not (
            subject.status is Status.BUILDABLE or subject.code is Code.BUILD_FAILED
        ):
            raise FarmError(
                f"{verdict.requirement} on Pyodide {verdict.runtime} is {verdict.status}: {verdict.reason}; only a "
                "buildable project (an sdist the farm can compile) is built on request"
            )
        meta, generated = self._recipe(subject.project, subject.version)
        recipes, problems = load_recipes(self.recipes_dir, self.generated_dir)
        name = canonicalize_name(subject.project)
        if name not in {r.name for r in recipes}:
            found = [str(p) for p in problems if canonicalize_name(p.file.parent.name) == name]
            raise RecipeInvalid(
                f"the recipe {meta} cannot be built:\n  " + "\n  ".join(found or ["(not loaded)"])
            )
        image = self.builders.for_runtime(subject.runtime)
        refused = missing_executables(recipes, image)
        if name in refused:
            raise FarmError(refused[name])
        planned = plan(recipes, select(recipes, [name], False), image, subject.runtime, self.states)
        for item in planned:
            if item.status == "queued" and item.build_id is not None:
                self.send(item.build_id, BUILD)
        mine = next(p for p in planned if p.recipe == name)
        return BuildTicket(
            project=name,
            version=subject.version,
            runtime=subject.runtime,
            recipe=str(meta),
            generated=generated,
            build_id=mine.build_id,
            status=mine.status,
            url=f"/builds/{mine.build_id}" if mine.build_id is not None else None,
        )

    def _recipe(self, project: str, version: str) -> tuple[Path, bool]:
        """The recipe to build: the hand-written one, a generated one of this version, or a new generated one."""
        name = canonicalize_name(project)
        written = self.recipes_dir / name / "meta.yaml"
        if written.is_file():
            return written, False
        generated = self.generated_dir / name / "meta.yaml"
        if generated.is_file() and _same_version(_recipe_version(generated), version):
            return generated, False
        made = write_skeleton(self.upstream, self.blobs, project, self.generated_dir, version, force=True)
        return made.path, True


def _recipe_version(meta: Path) -> str:
    try:
        data = yaml.safe_load(meta.read_text())
        return str(data["package"]["version"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return ""
