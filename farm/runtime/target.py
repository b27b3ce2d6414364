"""Runtime targets and the wheel tags each one installs.

A target is a Pyodide runtime release (``314.0.7``) with the Python, ABI and Emscripten platform it was built with.
An installed runtime's facts come from its own ``pyodide-lock.json`` ``info`` (recorded at ``runtime add``); the table
of release series below is the fallback for runtimes not installed. The tag list of a target is derived here and
nowhere else, with ``packaging.tags``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename
from packaging.version import InvalidVersion, Version

from farm.errors import InvalidDistribution, UnknownRuntime


@functools.lru_cache(maxsize=100_000)
def _wheel_tags(filename: str) -> frozenset[Tag]:
    """A wheel's tags (parsed once per name: a lock regeneration ranks every wheel of the catalog)."""
    return parse_wheel_filename(filename)[3]


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
        ranks = [self.tag_rank[tag] for tag in _wheel_tags(filename) if tag in self.tag_rank]
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


# Release series -> (python, abi, emscripten). Patch releases of a series share the ABI (PEP 783). Only a fallback:
# an installed runtime's target comes from its own lock (``RuntimeTargets.recorded``), so a new series needs no edit.
_SERIES: dict[str, RuntimeTarget] = {
    "314.0": RuntimeTarget("314.0", python="3.14.2", abi="2026_0", emscripten="5.0.3"),
    "0.29": RuntimeTarget("0.29", python="3.13.2", abi="2025_0", emscripten="4.0.9"),
    "0.28": RuntimeTarget("0.28", python="3.13.2", abi="2025_0", emscripten="4.0.9"),
    "0.27": RuntimeTarget("0.27", python="3.12.7", abi="2024_0", emscripten="3.1.58"),
}

_ABI = re.compile(r"[0-9]{4}_[0-9]{1,4}")
_PLATFORM = re.compile(r"emscripten_([0-9]{1,4})_([0-9]{1,4})_([0-9]{1,4})")
_PYTHON = re.compile(r"3\.[0-9]{1,3}\.[0-9]{1,3}((a|b|rc)[0-9]{1,3})?")


def runtime_version(text: str) -> str:
    """A runtime version as given (``314.0.7``), refused unless it is a PEP 440 version in its normal form with at
    least a major and a minor number: it names directories (``www/pyodide/<version>/``)."""
    try:
        parsed = Version(text)
    except InvalidVersion:
        parsed = None
    if parsed is None or str(parsed) != text or len(parsed.release) < 2:
        raise UnknownRuntime(f"{text!r} is not a Pyodide runtime version; write it as npm does, e.g. 314.0.7")
    return text


def series_target(version: str) -> RuntimeTarget | None:
    """The table's target for ``version``'s release series, or None when the table does not know the series."""
    release = Version(version).release
    key = f"{release[0]}.{release[1]}" if len(release) >= 2 else str(release[0])
    series = _SERIES.get(key)
    if series is None:
        return None
    return RuntimeTarget(str(Version(version)), series.python, series.abi, series.emscripten)


def target_from_info(version: str, info: object, where: str) -> RuntimeTarget:
    """The target a runtime's own ``pyodide-lock.json`` describes in its ``info``
    (``{"abi_version": "2026_0", "platform": "emscripten_5_0_3", "python": "3.14.2", "arch": "wasm32"}``)."""
    if not isinstance(info, Mapping):
        raise InvalidDistribution(f"{where}: its pyodide-lock.json has no info object (got {_shown(info)})")
    problems = []
    abi, platform, python = info.get("abi_version"), info.get("platform"), info.get("python")
    if not (isinstance(abi, str) and _ABI.fullmatch(abi)):
        problems.append(f"abi_version {_shown(abi)} is not a PEP 783 ABI such as '2026_0'")
    platform_match = _PLATFORM.fullmatch(platform) if isinstance(platform, str) else None
    if platform_match is None:
        problems.append(
            f"platform {_shown(platform)} is not an Emscripten platform such as 'emscripten_5_0_3'"
        )
    if not (isinstance(python, str) and _PYTHON.fullmatch(python)):
        problems.append(f"python {_shown(python)} is not a Python 3 version such as '3.14.2'")
    if info.get("arch", "wasm32") != "wasm32":
        problems.append(f"arch {_shown(info.get('arch'))} is not 'wasm32', the only one wasmfarm serves")
    if problems:
        raise InvalidDistribution(
            f"{where}: its pyodide-lock.json info is not usable: {'; '.join(problems)}. "
            "Nothing was installed; is this a Pyodide distribution?"
        )
    assert isinstance(abi, str) and isinstance(python, str) and platform_match is not None
    emscripten = ".".join(str(int(part)) for part in platform_match.groups())
    return RuntimeTarget(version, python=python, abi=abi, emscripten=emscripten)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def disagreement(recorded: RuntimeTarget, table: RuntimeTarget) -> str | None:
    """How a runtime's own facts differ from the table's for its series, or None when they agree."""
    fields = ("python", "abi", "emscripten")
    differences = [
        f"{name} {getattr(recorded, name)!r} (table: {getattr(table, name)!r})"
        for name in fields
        if getattr(recorded, name) != getattr(table, name)
    ]
    return ", ".join(differences) or None


class RuntimeTargets:
    """Targets by runtime version: those recorded from installed runtimes' own locks first, then the table.

    A process fills it once from its data directory (``farm.runtime.recorded``, when the settings are built) and
    after each ``runtime add``/``remove``; lookups are pure.
    """

    def __init__(self) -> None:
        self._recorded: dict[str, RuntimeTarget] = {}

    @property
    def recorded(self) -> Mapping[str, RuntimeTarget]:
        return self._recorded

    def use(self, targets: Iterable[RuntimeTarget]) -> None:
        """Make ``targets`` the recorded ones (a data directory's), replacing any recorded before."""
        self._recorded = {t.version: t for t in targets}

    def record(self, target: RuntimeTarget) -> None:
        self._recorded = {**self._recorded, target.version: target}

    def forget(self, version: str) -> None:
        self._recorded = {v: t for v, t in self._recorded.items() if v != version}

    def target_for(self, version: str) -> RuntimeTarget:
        try:
            normal = str(Version(version))
        except InvalidVersion:
            raise UnknownRuntime(
                f"{version!r} is not a Pyodide runtime version; write it as npm does, e.g. 314.0.7"
            ) from None
        recorded = self._recorded.get(normal)
        if recorded is not None:
            return recorded
        table = series_target(normal)
        if table is None:
            known = ", ".join(sorted(_SERIES))
            installed = ", ".join(sorted(self._recorded)) or "none"
            raise UnknownRuntime(
                f"unknown Pyodide runtime {version!r}: it is not installed here (installed: {installed}) and "
                f"wasmfarm's table knows the release series {known}; `wasmfarm runtime add {version}` installs it "
                "and reads its Python, ABI and platform from its own lock"
            )
        return table


TARGETS = RuntimeTargets()  # this process's


def target_for(version: str) -> RuntimeTarget:
    """The target of a runtime version such as ``314.0.7`` or ``0.29.5``: its recorded facts, else the table's."""
    return TARGETS.target_for(version)


def targets_for(versions: Iterable[str]) -> list[RuntimeTarget]:
    return [target_for(v) for v in versions]
