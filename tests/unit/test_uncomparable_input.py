"""Input that parses but cannot be used (found by a hostile-input hunt): refused where it enters with a message,
and, where a store from before holds it, read around rather than failing every lock; plus a request body that
stops arriving and a wheel name too long for a temporary link beside it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

import index_server.app as app_module
from farm.dist.filename import parse_dist_filename
from farm.dist.metadata import parse_core_metadata
from farm.dist.requirement import unusable
from farm.errors import InvalidDistribution, RequestTimeout
from farm.index.render_lock import RenderLock
from farm.runtime.distribution import RuntimeStore
from farm.runtime.lockfile import runtime_depends
from farm.runtime.publish import LockPublisher
from farm.runtime.target import target_for
from farm.store.blobs import BlobStore
from farm.store.models import DistFile

POISON = 'baz; python_version ~= "3"'  # ~= needs two release segments: packaging cannot compare it


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (POISON, "cannot be evaluated"),
        ('baz; dependency_groups == "x"', "names 'dependency_groups'"),
        ("baz>" + "9" * 5000, "cannot be compared"),
    ],
)
def test_a_requires_dist_nothing_can_evaluate_is_refused_at_ingest(line: str, why: str) -> None:
    assert unusable(Requirement(line)) is not None
    raw = f"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: {line}\n\n".encode()
    with pytest.raises(InvalidDistribution, match=why):
        parse_core_metadata(raw, parse_dist_filename("demo-1.0-py3-none-any.whl"))


def test_usable_requirements_pass() -> None:
    for line in (
        "baz==1.*",
        "baz===odd",
        'baz; sys_platform == "emscripten"',
        'baz; extra == "x"',
        "baz>=1,<2",
    ):
        assert unusable(Requirement(line)) is None, line


def test_a_stored_row_with_such_a_marker_is_read_without_it() -> None:
    """A wheel stored before the check: its lock entry leaves that dependency out instead of failing the lock."""
    metadata = (
        f"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: {POISON}\nRequires-Dist: qux\n\n"
    )
    row = DistFile(
        project_id=1, filename="demo-1.0-py3-none-any.whl", version="1.0", kind="wheel", sha256="d" * 64, size=1,
        origin="uploaded", core_metadata=metadata,
    )  # fmt: skip
    assert runtime_depends(row, target_for("314.0.7")) == ["qux"]


def test_a_request_body_that_stops_arriving_is_a_408(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "BODY_IDLE_SECONDS", 0.05)

    async def silent() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {}

    receive = app_module._limited(silent, 1024)
    with pytest.raises(RequestTimeout, match="stopped arriving"):
        asyncio.run(receive())


def test_a_wheel_name_of_254_bytes_is_linked_beside_the_runtime(tmp_path: Path) -> None:
    """The temporary link's name does not grow with the wheel's (``.<name>.<pid>.link`` passed 255 bytes)."""
    blobs = BlobStore(tmp_path / "blobs")
    sha = blobs.put_bytes(b"wheel")
    name = "demo-1.0-" + ".".join(f"py3{i}" for i in range(60))[:230] + "-none-any.whl"
    assert 240 < len(name) <= 255
    runtime = tmp_path / "www" / "pyodide" / "314.0.7"
    runtime.mkdir(parents=True)
    publisher = LockPublisher(
        RuntimeStore(tmp_path / "www", tmp_path / "runtimes", blobs), None, blobs,  # type: ignore[arg-type]
        RenderLock(tmp_path / "www" / ".render.lock"),
    )  # fmt: skip
    publisher._link_wheels(runtime, {"packages": {"demo": {"file_name": name, "sha256": sha}}})
    assert (runtime / name).read_bytes() == b"wheel"
    assert [p.name for p in runtime.iterdir()] == [name]
