"""What ``packaging`` parses in a requirement but cannot use: checked where a requirement enters (a client's
requirement line, an uploaded or mirrored wheel's Requires-Dist), so resolving and locking never meet it.

- a specifier whose version has more digits than ``int()`` converts (4,300): comparing with it raises;
- a marker naming a variable PEP 508 does not define (``dependency_groups``, which only lock files have), or comparing
  what cannot be compared (``python_version ~= "3"``: ``~=`` needs two release segments).
"""

from __future__ import annotations

from packaging.markers import Marker, UndefinedComparison, UndefinedEnvironmentName, default_environment
from packaging.requirements import Requirement

# Any complete PEP 508 environment does: the errors above do not depend on the values.
_ENVIRONMENT: dict[str, str] = {key: str(value) for key, value in default_environment().items()} | {"extra": ""}


def unusable(requirement: Requirement) -> str | None:
    """Why ``requirement`` cannot be resolved, in words; None when it can."""
    try:
        requirement.specifier.contains("0", prereleases=True)  # compares with every specifier's version
    except ValueError as exc:
        return f"its specifier {str(requirement.specifier)[:80]!r} cannot be compared ({str(exc)[:100]})"
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
