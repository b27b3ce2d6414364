"""The text key sorts like packaging's Version (PEP 440), so SQL can order kept checks by version."""

from __future__ import annotations

import random

from packaging.version import Version

from farm.store.version_key import MAX_LENGTH, version_key

VERSIONS = [
    "0.9", "0.10", "1.0.dev1", "1.0a1.dev1", "1.0a1", "1.0a1.post1", "1.0a2", "1.0b1", "1.0rc1", "1.0",
    "1.0+local", "1.0.post1.dev1", "1.0.post1", "1.0.1", "1.1", "1.9", "1.10", "1.10.0.1", "2", "2.0.post2",
    "10.0", "2023.12.31", "1!0.1",
]  # fmt: skip


def test_key_order_is_version_order() -> None:
    shuffled = VERSIONS[:]
    random.Random(3).shuffle(shuffled)
    assert sorted(shuffled, key=version_key) == sorted(shuffled, key=Version)
    assert sorted(shuffled, key=Version) != sorted(shuffled)  # the text order would be wrong


def test_equal_versions_share_a_key_and_others_do_not() -> None:
    assert version_key("1.0") == version_key("1.0.0") == version_key("1.0.0.0")
    keys = {version_key(v) for v in VERSIONS}
    assert len(keys) == len(VERSIONS)


def test_no_version_and_invalid_versions_sort_first() -> None:
    assert version_key(None) == version_key("") == version_key("not a version") == ""
    assert all(version_key(v) > "" for v in VERSIONS)


def test_key_is_bounded() -> None:
    long = "1" + ".99999999999" * 20 + "+" + "x" * 300
    assert len(version_key(long)) <= MAX_LENGTH
    assert version_key("1.99999999999") > version_key("1.9999999998")
