"""Build requirements, prefetched into a local wheelhouse so the build itself runs with the network cut.

Two download steps run in the image with network (``pip download --only-binary=:all:``: wheels only, so no code of
the package runs while the network is up): the static ``build-system.requires`` first, then whatever the backend
asks for when asked (``get_requires_for_build_wheel``; pyroaring's setup.py asks for cython that way), which is
asked inside the sandbox with the network cut. Indexes: the farm's own first, then the upstream build index.
The recipe's ``requirements/constraint`` lines (``/work/constraints.txt``) bind both downloads, the question and,
through ``PIP_CONSTRAINT``, the build frontend's own install, as pyodide-build passes them.
"""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from farm.build import sandbox
from farm.build.crossbuild import pin_requirements
from farm.build.image import VENV, BuilderImage
from farm.errors import BuildError, BuildFailed
from farm.store.blobs import atomic_write

DEFAULT_REQUIRES = ["setuptools>=40.8.0"]
CONSTRAINTS = "/work/constraints.txt"  # in the sandbox; written by ``write_constraints``
_UNSATISFIABLE = ("No matching distribution", "ResolutionImpossible", "conflicting dependencies")


def write_constraints(work: Path, constraints: list[str]) -> bool:
    """``work/constraints.txt`` from the recipe's constraint lines; False (and no file) when it has none."""
    target = work / "constraints.txt"
    target.unlink(missing_ok=True)
    if not constraints:
        return False
    target.write_text("".join(f"{line}\n" for line in constraints))
    return True


_ASK = """
import json, os, sys, tomllib
from pyproject_hooks import BuildBackendHookCaller, default_subprocess_runner
src = sys.argv[1]
try:
    build_system = tomllib.load(open(os.path.join(src, "pyproject.toml"), "rb")).get("build-system", {})
except FileNotFoundError:
    build_system = {}
backend = build_system.get("build-backend", "setuptools.build_meta:__legacy__")
def runner(cmd, cwd=None, extra_environ=None):
    env = dict(extra_environ or {}, PYTHONPATH="/tmp/reqenv")
    default_subprocess_runner(cmd, cwd=cwd, extra_environ=env)
caller = BuildBackendHookCaller(src, backend, build_system.get("backend-path"), runner=runner,
                                python_executable="/usr/bin/python3.14")
print("WASMFARM-REQUIRES " + json.dumps(caller.get_requires_for_build_wheel({})))
"""


def static_requires(src: Path) -> list[str]:
    pyproject = src / "pyproject.toml"
    if not pyproject.is_file():
        return list(DEFAULT_REQUIRES)
    try:
        data = tomllib.loads(pyproject.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BuildFailed(f"{pyproject}: not valid TOML ({exc})") from exc
    requires = data.get("build-system", {}).get("requires")
    return [str(r) for r in requires] if isinstance(requires, list) else list(DEFAULT_REQUIRES)


@dataclass(frozen=True)
class RequirementsCache:
    """What a build key needed, remembered: ``<root>/<key>.json`` names the wheels, ``<root>/wheels/`` holds them.

    The key covers the source, its patches and the builder, so the backend's answer cannot change under it; a
    rebuild of the same key (``--force``, a rebuild button, a retry) skips both download steps and the question.
    """

    root: Path

    def restore(self, key: str, wheelhouse: Path) -> list[str] | None:
        record = self.root / f"{key}.json"
        try:
            data = json.loads(record.read_text())
        except (OSError, ValueError):
            return None
        files = [self.root / "wheels" / name for name in data["wheels"]]
        if not all(f.is_file() for f in files):
            return None
        for file in files:
            target = wheelhouse / file.name
            if not target.exists():
                try:
                    os.link(file, target)
                except OSError:
                    shutil.copyfile(file, target)
        return list(data["requirements"])

    def keep(self, key: str, wheelhouse: Path, requirements: list[str]) -> None:
        wheels = self.root / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        names = sorted(p.name for p in wheelhouse.glob("*.whl"))
        for name in names:
            if not (wheels / name).is_file():
                atomic_write(wheels / name, (wheelhouse / name).read_bytes())
        atomic_write(
            self.root / f"{key}.json", json.dumps({"requirements": requirements, "wheels": names}).encode()
        )


def prefetch(
    image: BuilderImage,
    work: Path,
    src_in_sandbox: str,
    index_urls: list[str],
    log: Callable[[str], None],
    limits: sandbox.Limits,
    cache: tuple[RequirementsCache, str] | None = None,
    pinned: dict[str, str] | None = None,
    constrained: bool = False,
    build_env: Mapping[str, str] | None = None,
) -> list[str]:
    """Fill ``work/wheelhouse``; return every requirement fetched. ``pinned``: cross-build packages (canonical
    name -> version) fetched at exactly the version whose target files the build gets. ``build_env``: the build's
    environment, in which the backend is asked (as pyodide-build asks it): a setup.py may look for its libraries
    then (lxml asks pkg-config for libxml2 and stops if it is not found)."""
    wheelhouse = work / "wheelhouse"
    wheelhouse.mkdir(exist_ok=True)
    if cache is not None:
        remembered = cache[0].restore(cache[1], wheelhouse)
        if remembered is not None:
            log(f"# build requirements of this build key, from the cache: {' '.join(remembered)}")
            return remembered
    requirements = _fetch(
        image, work, src_in_sandbox, index_urls, log, limits, pinned or {}, constrained, build_env
    )
    if cache is not None:
        cache[0].keep(cache[1], wheelhouse, requirements)
    return requirements


def _fetch(
    image: BuilderImage,
    work: Path,
    src_in_sandbox: str,
    index_urls: list[str],
    log: Callable[[str], None],
    limits: sandbox.Limits,
    pinned: dict[str, str],
    constrained: bool,
    build_env: Mapping[str, str] | None,
) -> list[str]:
    mounts = [sandbox.Mount(work, "/work", writable=True)]
    requires = pin_requirements(static_requires(work / src_in_sandbox.removeprefix("/work/")), pinned)
    constraint = [f"--constraint={CONSTRAINTS}"] if constrained else []
    _download(image, mounts, requires, index_urls, log, limits, constraint)
    log("# asking the build backend for its build requirements (network cut)")
    lines: list[str] = []

    def capture(line: str) -> None:
        lines.append(line)
        log(line)

    script = (
        f"{VENV}/bin/pip install -q --no-index --find-links /work/wheelhouse --target /tmp/reqenv "
        + " ".join(_quote(r) for r in [*constraint, *requires])
        + f"\n{VENV}/bin/python -c {_quote(_ASK)} {src_in_sandbox}"
    )
    outcome = sandbox.run(
        sandbox.command_line(
            image.rootfs, ["/bin/sh", "-ec", script], mounts=mounts, env=build_env, cwd=src_in_sandbox
        ),
        capture,
        limits,
    )
    asked = next((json.loads(x.split(" ", 1)[1]) for x in lines if x.startswith("WASMFARM-REQUIRES ")), None)
    if outcome.returncode != 0 or asked is None:
        raise BuildFailed(
            "the build backend could not say what it needs to build (get_requires_for_build_wheel failed):\n"
            + "\n".join(outcome.tail[-15:])
        )
    extra = [r for r in pin_requirements(asked, pinned) if r not in requires]
    if extra:
        _download(image, mounts, extra, index_urls, log, limits, constraint)
    return requires + extra


def _download(
    image: BuilderImage,
    mounts: list[sandbox.Mount],
    requirements: list[str],
    index_urls: list[str],
    log: Callable[[str], None],
    limits: sandbox.Limits,
    constraint: list[str],
) -> None:
    if not requirements:
        return
    indexes = [f"--index-url={index_urls[0]}", *(f"--extra-index-url={u}" for u in index_urls[1:])]
    argv = [
        f"{VENV}/bin/pip",
        "download",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--dest=/work/wheelhouse",
        "--find-links=/work/wheelhouse",
        *indexes,
        *constraint,
        *requirements,
    ]
    log(
        f"# prefetching build requirements: {' '.join(requirements)}{f' ({constraint[0]})' if constraint else ''}"
    )
    outcome = sandbox.run(
        sandbox.command_line(
            image.rootfs,
            argv,
            mounts=mounts,
            network=True,
            env={"PIP_CERT": "/etc/ssl/certs/ca-certificates.crt"},
        ),
        log,
        limits,
    )
    if outcome.returncode != 0:
        tail = "\n".join(outcome.tail[-10:])
        if any(
            marker in tail for marker in _UNSATISFIABLE
        ):  # the recipe's requirements: retrying cannot help
            raise BuildFailed(
                f"no build requirements satisfy {requirements}"
                + (f" under requirements/constraint ({CONSTRAINTS})" if constraint else "")
                + f" on {', '.join(index_urls)}:\n{tail}"
            )
        raise BuildError(
            f"could not fetch the build requirements {requirements} from {', '.join(index_urls)}:\n{tail}"
        )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
