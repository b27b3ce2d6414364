"""The recipe spec: ``recipes/<name>/meta.yaml`` in the format of pyodide-recipes, as pydantic models.

Unknown keys are errors (``extra="forbid"``), so a typo never silently does nothing. The JSON Schema export
(``wasmfarm recipes schema``) is generated from these models.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
PackageType = Literal["package", "static_library", "shared_library", "cpython_module"]
Exports = Literal["pyinit", "requested", "whole_archive"] | list[str]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class PackageSpec(_Section):
    name: str = Field(description="Project name, as on PyPI.")
    version: str = Field(description="Version being built.")
    top_level: list[str] = Field(default=[], alias="top-level", description="Top-level importable names.")
    tag: list[str] = Field(default=[], description="Free-form tags (e.g. 'core', 'min-scipy-stack').")
    disabled: bool = Field(default=False, alias="_disabled", description="Skip this recipe.")
    pinned: bool = Field(default=False, description="Do not update this recipe automatically.")


class SourceSpec(_Section):
    url: str | None = Field(default=None, description="sdist (or wheel) URL; needs sha256.")
    sha256: str | None = Field(default=None, description="sha256 of the file at url.")
    path: str | None = Field(default=None, description="In-tree source directory, relative to the recipe.")
    extract_dir: str | None = Field(default=None, description="Directory inside the archive to build from.")
    patches: list[str] = Field(
        default=[], description="Patch files, relative to the recipe, applied in order."
    )
    extras: list[tuple[str, str]] = Field(default=[], description="[source, destination] files copied in.")

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is not None and not _SHA256.match(value):
            raise ValueError("must be 64 lower-case hex digits (the sha256 of the file at source/url)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.url is not None and self.sha256 is None:
            raise ValueError("a source downloaded from 'url' needs 'sha256'")
        if self.url is not None and self.path is not None:
            raise ValueError("give either 'url' or 'path', not both")
        if self.url is None and self.path is None:
            raise ValueError("give 'url' (with 'sha256') or an in-tree 'path'")
        if (self.path is not None or (self.url or "").endswith(".whl")) and (self.patches or self.extras):
            raise ValueError("'patches' and 'extras' apply only to a source archive downloaded from 'url'")
        return self


class BuildSpec(_Section):
    package_type: PackageType = Field(default="package", alias="type", description="What the recipe builds.")
    exports: Exports = Field(default="pyinit", description="Symbols exported from shared objects.")
    backend_flags: str = Field(default="", alias="backend-flags", description="Flags for the build backend.")
    cflags: str = Field(default="", description="Extra C compiler flags.")
    cxxflags: str = Field(default="", description="Extra C++ compiler flags.")
    ldflags: str = Field(default="", description="Extra linker flags.")
    script: str | None = Field(
        default=None, description="Shell script run before the build (or as the build)."
    )
    cross_script: str | None = Field(
        default=None, alias="cross-script", description="Script run on the host."
    )
    post: str | None = Field(default=None, description="Shell script run after the build.")
    unvendor_tests: bool = Field(
        default=True, alias="unvendor-tests", description="Move tests to a separate wheel."
    )
    retain_test_patterns: list[str] = Field(default=[], alias="_retain-test-patterns")
    vendor_sharedlib: bool = Field(
        default=True, alias="vendor-sharedlib", description="Vendor shared libraries."
    )
    cross_build_env: bool = Field(default=False, alias="cross-build-env")
    cross_build_files: list[str] = Field(default=[], alias="cross-build-files")

    @model_validator(mode="after")
    def _library_keys(self) -> Self:
        if self.package_type in ("static_library", "shared_library", "cpython_module"):
            allowed = {"package_type", "script", "exports", "unvendor_tests"}
            extra = sorted(k for k in self.model_fields_set if k not in allowed)
            if extra:
                aliases = [BuildSpec.model_fields[k].alias or k for k in extra]
                raise ValueError(f"a {self.package_type} recipe may not set build/{', build/'.join(aliases)}")
        return self


class RequirementsSpec(_Section):
    run: list[str] = Field(default=[], description="Runtime dependencies (recipes or index projects).")
    host: list[str] = Field(
        default=[], description="Build-time dependencies compiled for the target (recipes)."
    )
    executable: list[str] = Field(default=[], description="Executables the build needs on the build machine.")
    constraint: list[str] = Field(
        default=[], description="pip constraints for the isolated build environment."
    )


class TestSpec(_Section):
    imports: list[str] = Field(
        default=[], description="Modules that must import in Pyodide after installation."
    )


class AboutSpec(_Section):
    home: str | None = None
    PyPI: str | None = None
    summary: str | None = None
    license: str | None = None


class ExtraSpec(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)
    recipe_maintainers: list[str] = Field(default=[], alias="recipe-maintainers")


class Recipe(_Section):
    """One ``meta.yaml``."""

    package: PackageSpec
    source: SourceSpec
    build: BuildSpec = BuildSpec()
    requirements: RequirementsSpec = RequirementsSpec()
    test: TestSpec = TestSpec()
    about: AboutSpec = AboutSpec()
    extra: ExtraSpec = ExtraSpec()

    @model_validator(mode="after")
    def _wheel_sources(self) -> Self:
        if (self.source.url or "").endswith(".whl") and self.requirements.host:
            raise ValueError("a recipe whose source is a wheel cannot have requirements/host")
        return self

    @model_validator(mode="after")
    def _cross_build_files_in_the_package(self) -> Self:
        """pyodide-build copies ``site-packages-extras/<name>/`` over the build environment's ``<name>/``, so a
        cross-build file outside the package's own directory would never reach a build."""
        name = self.package.name
        for file in self.build.cross_build_files:
            parts = PurePosixPath(file).parts
            if PurePosixPath(file).is_absolute() or ".." in parts or not parts or parts[0] != name:
                raise ValueError(
                    f"build/cross-build-files: {file!r} must be a path inside the wheel under {name}/ "
                    f"(like {name}/_core/include/{name}/config.h)"
                )
        return self

    @property
    def is_wheel_source(self) -> bool:
        """The source is a wheel (pure, or built elsewhere): nothing is compiled."""
        return (self.source.url or "").split("?", 1)[0].split("#", 1)[0].endswith(".whl")

    @property
    def is_library(self) -> bool:
        return self.build.package_type in ("static_library", "shared_library")
