"""Target-side build dependencies: the wasm32 files of a farm-built package that another package compiles against.

A package that compiles against numpy's C API needs numpy in its build environment twice over: a host numpy to run
``numpy.get_include()`` and the *target's* configuration headers (``_numpyconfig.h`` says how wide ``long`` and
``npy_intp`` are: 8 bytes on the host, 4 on wasm32) and static libraries (``libnpymath.a``). pyodide-build handles
this with "cross-build packages": the xbuildenv's ``requirements.txt`` pins each one (``numpy==2.5.5``) and
``site-packages-extras/`` holds its target files; ``pyodide build`` installs the pinned host wheel into the isolated
environment and copies the target files over it.

The farm fills both from its own index: a recipe with ``build/cross-build-env: true`` names its target files in
``build/cross-build-files``; a recipe that lists it under ``requirements/host`` gets, for its build only, a
``requirements.txt`` and a ``site-packages-extras/`` holding those files taken from the dependency's verified,
published wheel. They are bound read-only over the image's (empty or official) ones, merged with what the image
already pins; pyodide-build installs the pinned host wheels into its host site-packages (``HOSTINSTALLDIR``), a
writable directory of the build bound over the image's. The image itself is never altered and two builds never see
each other's dependencies.
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from farm.build import sandbox
from farm.build.image import CROSS_BUILD_HOST_DIR, BuilderImage
from farm.errors import BuildError, BuildFailed


@dataclass(frozen=True)
class CrossBuildPackage:
    """A farm-built dependency whose target files a build compiles against."""

    name: str
    version: str
    wheel: Path  # the published wheel (a blob of the farm's store, the file its index serves)
    filename: str  # its name in the index
    files: tuple[str, ...]  # build/cross-build-files of its recipe, paths inside the wheel
    recipe_path: Path  # its meta.yaml, named in errors


def pins(packages: list[CrossBuildPackage]) -> dict[str, str]:
    return {canonicalize_name(p.name): p.version for p in packages}


def pin_requirements(requirements: list[str], pinned: dict[str, str]) -> list[str]:
    """Build requirements with every cross-build package pinned to the version whose target files the build gets
    (pyodide-build does the same replacement when it installs them, so the wheelhouse must hold that version)."""
    out = []
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            out.append(text)
            continue
        name = canonicalize_name(requirement.name)
        if name not in pinned:
            out.append(text)
            continue
        marker = f"; {requirement.marker}" if requirement.marker else ""
        out.append(f"{name}=={pinned[name]}{marker}")
    return out


def image_pins(image: BuilderImage) -> dict[str, str]:
    """The cross-build packages the image's own xbuildenv pins (an official one pins numpy, scipy...; the
    registry-only one pins none)."""
    path = image.rootfs / image.xbuildenv_dir().lstrip("/") / "requirements.txt"
    found: dict[str, str] = {}
    for line in path.read_text().splitlines() if path.is_file() else []:
        name, _, version = line.strip().partition("==")
        if name and version and not name.startswith("#"):
            found[canonicalize_name(name)] = version.strip()
    return found


def overlay(
    image: BuilderImage, from_image: dict[str, str], packages: list[CrossBuildPackage], dest: Path
) -> list[sandbox.Mount]:
    """Write ``dest/requirements.txt``, ``dest/site-packages-extras/`` and an empty ``dest/host/`` and return the
    mounts that put them over the image's cross-build environment (``from_image``: its ``image_pins``). Nothing to
    mount when neither the recipe nor the image has a cross-build package."""
    if not packages and not from_image:
        return []
    inside = image.xbuildenv_dir()
    host = image.rootfs / inside.lstrip("/")
    image_extras = host / "site-packages-extras"
    if not (
        image_extras.is_dir()
        and (host / "requirements.txt").is_file()
        and (host / CROSS_BUILD_HOST_DIR).is_dir()
    ):
        raise BuildError(
            f"builder image {image.identity} has no {inside}/site-packages-extras to bind cross-build files over "
            "(it predates cross-build packages); make a current one with `wasmfarm builder create`"
        )
    shutil.rmtree(dest, ignore_errors=True)
    extras = dest / "site-packages-extras"
    extras.mkdir(parents=True)
    (dest / "host").mkdir()
    pinned = pins(packages)
    lines = []
    for name, version in from_image.items():
        if name not in pinned:
            lines.append(f"{name}=={version}")
            if (image_extras / name).exists():  # an official image's own cross-build files stay visible
                shutil.copytree(image_extras / name, extras / name, symlinks=True)
    for package in packages:
        lines.append(f"{package.name}=={package.version}")
        _extract(package, extras)
    (dest / "requirements.txt").write_text("\n".join(lines) + "\n")
    return [
        sandbox.Mount(dest / "requirements.txt", f"{inside}/requirements.txt"),
        sandbox.Mount(extras, f"{inside}/site-packages-extras"),
        sandbox.Mount(dest / "host", f"{inside}/{CROSS_BUILD_HOST_DIR}", writable=True),
    ]


def _extract(package: CrossBuildPackage, extras: Path) -> None:
    if not package.files:
        return
    try:
        with zipfile.ZipFile(package.wheel) as wheel:
            names = set(wheel.namelist())
            for file in package.files:
                if file not in names:
                    raise BuildFailed(
                        f"{package.recipe_path}: build/cross-build-files names {file}, which the farm's wheel "
                        f"{package.filename} does not contain; list files the wheel has"
                    )
                target = extras / file
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(wheel.read(file))
    except (OSError, zipfile.BadZipFile) as exc:
        raise BuildError(
            f"cannot read the cross-build files of {package.name} from {package.wheel}: {exc}"
        ) from exc
