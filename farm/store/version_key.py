"""A version as a string that sorts like the version (PEP 440), so a database can order rows by it with an index.

SQL orders ``version`` columns as text ("1.10" before "1.9"); ``version_key`` columns hold this key instead. Hand-
rolled because ``packaging.version.Version`` orders versions in Python only (its ``_key`` is a tuple, and private):
the key follows the same rules field by field, each number zero-padded to a fixed width.

- epoch, then up to 6 release numbers (missing ones are 0, so 1.0 and 1.0.0 have one key, as in PEP 440);
- the phase: a development release of the final version (``1.0.dev1``) < pre-releases (a < b < rc) < the final;
- then post-releases, then a development release of that point (``1.0a1.dev1`` < ``1.0a1``);
- a local version sorts after its public version (``1.0`` < ``1.0+ubuntu``), local labels compared as text.

A text that is not a PEP 440 version, and no version at all, get the empty key: they sort before every version.
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

MAX_LENGTH = 160
_WIDTH = 10
_RELEASE_PARTS = 6
_LOCAL_CHARS = 40
_PRE = {"a": "a", "b": "b", "rc": "c"}


def _number(value: int) -> str:
    return str(min(value, 10**_WIDTH - 1)).zfill(_WIDTH)


def version_key(text: str | None) -> str:
    if not text:
        return ""
    try:
        version = Version(text)
    except InvalidVersion:
        return ""
    release = list(version.release[:_RELEASE_PARTS])
    release += [0] * (_RELEASE_PARTS - len(release))
    key = str(min(version.epoch, 9999)).zfill(4) + "".join(_number(n) for n in release)
    if version.pre is not None:
        key += "1" + _PRE[version.pre[0]] + _number(version.pre[1])
    elif version.post is None and version.dev is not None:
        key += "0"  # 1.0.dev1: before 1.0a1
    else:
        key += "3"  # the final release
    key += "1" + _number(version.post) if version.post is not None else "0"
    key += "0" + _number(version.dev) if version.dev is not None else "1"
    if version.local:
        key += "+" + version.local[:_LOCAL_CHARS]
    return key
