"""Input that parses but cannot be used (found by a hostile-input hunt): refused where it enters with a message,
and, where a store from before holds it, read around rather than failing every lock; plus a request body that
stops arriving and a wheel name too long for a temporary link beside it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

import index_server.app as app_module
from farm.dist.filename import parse_dist_filename
from farm.dist.metadata import parse_core_metadata
from farm.dist.requirement import unusable
from farm.errors import InvalidDistribution, NotFound, RequestTimeout
from farm.index.render_lock import RenderLock
from farm.runtime.distribution import RuntimeStore
from farm.runtime.lockfile import runtime_depends
from farm.runtime.locking import kept_lock
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
        ("baz>1,<" + "9" * 5000, "cannot be compared"),  # a set stops at the first specifier that fails
        ("baz==1.0,!=" + "9" * 5000, "cannot be compared"),
        ("baz<" + "9" * 5000 + ",>1", "cannot be compared"),  # its message once failed to format
        (
            'baz; platform_release >= "1.' + "9" * 5000 + '"',
            "cannot be evaluated",
        ),  # a runtime's is a version
    ],
)
def test_a_requires_dist_nothing_can_evaluate_is_refused_at_ingest(line: str, why: str) -> None:
    assert unusable(Requirement(line)) is not None
    raw = f"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: {line}\n\n".encode()
    with pytest.raises(InvalidDistribution, match=why):
        parse_core_metadata(raw, parse_dist_filename("demo-1.0-py3-none-any.whl"))


@pytest.mark.parametrize(
    "line",
    [
        "baz==1.*",
        "baz===odd",
        "baz~=1.2",
        "baz==1.0+abc",
        "baz>=2.0rc1,<3.dev0",
        "baz>=1,<2",
        'baz; sys_platform == "emscripten"',
        'baz; extra == "x"',
        'baz; python_full_version >= "3.8.1" and platform_python_implementation == "CPython"',
        'baz; implementation_name == "cpython" or os_name == "nt"',
        'baz; "arm" in platform_machine or platform_system not in "Windows Darwin"',
        'baz; python_version === "3.14"',
    ],
)
def test_usable_requirements_pass(line: str) -> None:
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
        asyncio.run(asyncio.wait_for(receive(), 5))  # without the limit: TimeoutError after 5 s, not a hang


def test_after_the_last_piece_of_body_nothing_is_timed(monkeypatch: pytest.MonkeyPatch) -> None:
    """receive() after the body waits for the client to leave, as long as a streamed response runs."""
    monkeypatch.setattr(app_module, "BODY_IDLE_SECONDS", 0.05)
    messages = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def client() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.sleep(0.3)
        return {"type": "http.disconnect"}

    async def run() -> list[dict[str, Any]]:
        receive = app_module._limited(client, 1024)
        return [await receive(), await receive()]

    assert [m["type"] for m in asyncio.run(run())] == ["http.request", "http.disconnect"]


def test_a_kept_lock_is_a_lock_of_the_runtime_it_is_asked_under(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    target = target_for("314.0.7")
    deep = blobs.put_bytes(b"[" * 100_000)  # any stored file has a digest; this one was a RecursionError
    with pytest.raises(NotFound, match="is not a lock"):
        kept_lock(deep, blobs, target)
    info = {
        "abi_version": target.abi,
        "python": target.python,
        "platform": "emscripten_5_0_3",
        "arch": "wasm32",
    }
    ours = blobs.put_bytes(json.dumps({"info": info, "packages": {}}).encode())
    assert json.loads(kept_lock(ours, blobs, target))["info"] == info
    theirs = blobs.put_bytes(json.dumps({"info": {**info, "abi_version": "2025_0"}, "packages": {}}).encode())
    with pytest.raises(NotFound, match="a lock for another runtime"):
        kept_lock(theirs, blobs, target)


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


def test_an_upload_forms_version_past_ints_digits_is_a_mismatch_not_a_crash() -> None:
    from index_server.upload import _check_form_fields

    with pytest.raises(InvalidDistribution):
        _check_form_fields("demo", "9" * 5000, parse_dist_filename("demo-1.0-py3-none-any.whl"))
