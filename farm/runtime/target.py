"""Runtime targets and the wheel tags each one installs.

A target is a Pyodide runtime release (``314.0.7``) with the Python, ABI and Emscripten platform it was built with.
The tag list of a target is derived here and nowhere else, with ``packaging.tags``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename
from packaging.version import Version

from farm.errors import UnknownRuntime


@dataclass(frozen=True)
class RuntimeTarget:
    """One Pyodide runtime release."""

    version: str
    python: str  # full version, e.g. "3.14.2"
    abi: str  # PEP 783 ABI, e.g. "2026_0"
    emscripten: str  # e.g. "5.0.3"

    @property
    def python_xy(self) -> tuple[int, int]:
        major, minor = Version(self.python).release[:2]
        return major, minor

    @property
    def platforms(self) -> list[str]:
        """Platform tags, best first: PEP 783, the legacy Pyodide spelling, then the raw Emscripten one."""
        return [
            f"pyemscripten_{self.abi}_wasm32",
            f"pyodide_{self.abi}_wasm32",
            f"emscripten_{self.emscripten.replace('.', '_')}_wasm32",
        ]

    @functools.cached_property
    def tags(self) -> tuple[Tag, ...]:
        """Every tag a wheel may carry to install on this runtime, best first."""
        interpreter = f"cp{self.python_xy[0]}{self.python_xy[1]}"
        native = list(cpython_tags(python_version=self.python_xy, platforms=self.platforms))
        generic = list(
            compatible_tags(python_version=self.python_xy, interpreter=interpreter, platforms=self.platforms)
        )
        return tuple(dict.fromkeys(native + generic))

    @functools.cached_property
    def tag_rank(self) -> Mapping[Tag, int]:
        return {tag: rank for rank, tag in enumerate(self.tags)}

    def wheel_rank(self, filename: str) -> int | None:
        """Rank of a wheel's best tag on this runtime (0 is best), or None when it does not install here."""
        _, _, _, wheel_tags = parse_wheel_filename(filename)
        ranks = [self.tag_rank[tag] for tag in wheel_tags if tag in self.tag_rank]
        return min(ranks) if ranks else None

    def accepts(self, filename: str) -> bool:
        return filename.endswith(".whl") and self.wheel_rank(filename) is not None

    @property
    def marker_environment(self) -> dict[str, str]:
        """PEP 508 marker values inside this runtime (as ``packaging.markers.default_environment`` would report)."""
        xy = ".".join(map(str, self.python_xy))
        return {
            "implementation_name": "cpython",
            "implementation_version": self.python,
            "os_name": "posix",
            "platform_machine": "wasm32",
            "platform_release": self.emscripten,
            "platform_system": "Emscripten",
            "platform_version": "#1",
            "python_full_version": self.python,
            "platform_python_implementation": "CPython",
            "python_version": xy,
            "sys_platform": "emscripten",
        }


# Release series -> (python, abi, emscripten). Patch releases of a series share the ABI (PEP 783).
_SERIES: dict[str, RuntimeTarget] = {
    "314.0": RuntimeTarget("314.0", python="3.14.2", abi="2026_0", emscripten="5.0.3"),
    "0.29": RuntimeTarget("0.29", python="3.13.2", abi="2025_0", emscripten="4.0.9"),
    "0.28": RuntimeTarget("0.28", python="3.13.2", abi="2025_0", emscripten="4.0.9"),
    "0.27": RuntimeTarget("0.27", python="3.12.7", abi="2024_0", emscripten="3.1.58"),
}


def target_for(version: str) -> RuntimeTarget:
    """The target of a runtime version such as ``314.0.7`` or ``0.29.5``."""
    parsed = Version(version)
    release = parsed.release
    key = f"{release[0]}.{release[1]}" if len(release) >= 2 else str(release[0])
    series = _SERIES.get(key)
    if series is None:
        known = ", ".join(sorted(_SERIES))
        raise UnknownRuntime(
            f"unknown Pyodide runtime {version!r}: wasmfarm knows the release series {known}; "
            "use a version of one of them (e.g. 314.0.7)"
        )
    return RuntimeTarget(str(parsed), python=series.python, abi=series.abi, emscripten=series.emscripten)


def targets_for(versions: Iterable[str]) -> list[RuntimeTarget]:
    return [target_for(v) for v in versions]
