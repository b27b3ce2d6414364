"""What ``packaging`` parses in a requirement but cannot use: checked where a requirement enters (a client's
requirement line, an uploaded or mirrored wheel's Requires-Dist), so resolving and locking never meet it.

- a specifier whose version has more digits than ``int()`` converts (4,300): comparing with it raises;
- a marker naming a variable PEP 508 does not define (``dependency_groups``, which only lock files have), or comparing
  what cannot be compared (``python_version ~= "3"``: ``~=`` needs two release segments).
"""

from __future__ import annotations

from packaging.markers import Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import Requirement

# A complete PEP 508 environment whose version-like values are all valid versions (a Pyodide runtime's): a
# comparison that fails here fails on every runtime. (The host's own ``platform_release`` may be no version at all,
# and then a comparison with it is a string comparison that hides a version nothing can parse.)
_ENVIRONMENT: dict[str, str] = {
    "implementation_name": "cpython",
    "implementation_version": "3.14.2",
    "os_name": "posix",
    "platform_machine": "wasm32",
    "platform_release": "5.0.3",
    "platform_system": "Emscripten",
    "platform_version": "#1",
    "python_full_version": "3.14.2",
    "platform_python_implementation": "CPython",
    "python_version": "3.14",
    "sys_platform": "emscripten",
    "extra": "",
}


def unusable(requirement: Requirement) -> str | None:
    """Why ``requirement`` cannot be resolved, in words; None when it can."""
    for specifier in requirement.specifier:  # each on its own: a set stops at the first that does not match
        try:
            specifier.contains("0", prereleases=True)
        except ValueError as exc:
            shown = f"{specifier.operator}{specifier.version[:40]}"
            return f"its specifier {shown!r} cannot be compared ({str(exc)[:100]})"
    return None if requirement.marker is None else marker_problem(requirement.marker)


def marker_problem(marker: Marker) -> str | None:
    try:
        marker.evaluate(dict(_ENVIRONMENT))
    except UndefinedEnvironmentName as exc:
        return (
            f"its marker {str(marker)[:120]!r} names {exc}, which is not a PEP 508 environment marker "
            "(python_version, sys_platform, platform_machine, extra, ...)"
        )
    except (UndefinedComparison, ValueError) as exc:
        return f"its marker {str(marker)[:120]!r} cannot be evaluated ({str(exc)[:100]})"
    return None


def applies(marker: Marker | None, environment: dict[str, str]) -> bool:
    """``marker.evaluate(environment)``, with a marker that cannot be evaluated (stored before the check above
    existed) taken as not applying rather than failing every resolution that reads it."""
    if marker is None:
        return True
    try:
        return marker.evaluate(environment)
    except (UndefinedComparison, UndefinedEnvironmentName, ValueError):
        return False
