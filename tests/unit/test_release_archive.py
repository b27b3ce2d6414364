"""The release archive reader on its own: what it keeps, what refuses the archive, and that nothing stays behind."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from farm.errors import InvalidDistribution
from farm.runtime.release_archive import ReleaseLimits, read_release
from farm.store.blobs import BlobStore


def tar_bytes(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                archive.addfile(info, io.BytesIO(member[1]))
    return buffer.getvalue()


def special(name: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz", "w"])
def test_regular_files_under_pyodide_are_staged_with_their_hashes(tmp_path: Path, mode: str) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    data = tar_bytes(
        [special("pyodide", tarfile.DIRTYPE), ("pyodide/a.whl", b"A" * 10), ("./pyodide/sub/b.zip", b"B")],
        mode,
    )
    contents = read_release(io.BytesIO(data), blobs, "test")
    assert sorted(contents.files) == ["a.whl", "sub/b.zip"]
    assert contents.files["a.whl"].path.read_bytes() == b"A" * 10
    assert contents.archive_sha256 == hashlib.sha256(data).hexdigest()
    assert contents.files["sub/b.zip"].sha256 == hashlib.sha256(b"B").hexdigest()
    contents.discard()
    assert list((tmp_path / "blobs").rglob("*.part")) == []


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([("other/x.whl", b"x")], "outside the archive's pyodide/ folder"),
        ([("pyodide/..\\x", b"x")], "unsafe path"),
        ([special("pyodide/fifo", tarfile.FIFOTYPE)], "a device, FIFO or other special file"),
        ([("pyodide/a", b"x"), ("pyodide/a", b"y")], "appears twice"),
        ([("pyodide/a", b"x"), ("pyodide/b", b"x"), ("pyodide/c", b"x")], "more than 2 members"),
        ([("pyodide/big", b"x" * 100)], "more than 64"),
    ],
)
def test_a_hostile_member_refuses_the_archive_and_leaves_nothing(
    tmp_path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], message: str
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    limits = ReleaseLimits(max_members=2, max_member_bytes=64)
    with pytest.raises(InvalidDistribution, match=message):
        read_release(io.BytesIO(tar_bytes(members)), blobs, "test", limits)
    assert list((tmp_path / "blobs").rglob("*.part")) == []


def test_not_an_archive_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidDistribution, match="unreadable archive"):
        read_release(io.BytesIO(b"<html>not found</html>" * 100), BlobStore(tmp_path / "blobs"), "test")


def test_concatenated_bz2_streams_are_read_whole(tmp_path: Path) -> None:
    """pbzip2 (and pigz) write several streams one after the other; tar -x reads them as one."""
    import bz2

    plain = tar_bytes([("pyodide/a.whl", b"A" * 50_000), ("pyodide/b.whl", b"B" * 50_000)], "w")
    data = bz2.compress(plain[:30_000]) + bz2.compress(plain[30_000:])
    contents = read_release(io.BytesIO(data), BlobStore(tmp_path / "blobs"), "test")
    assert sorted(contents.files) == ["a.whl", "b.whl"]
    assert contents.files["b.whl"].path.read_bytes() == b"B" * 50_000
    contents.discard()


def test_a_decompression_bomb_stops_at_the_limit(tmp_path: Path) -> None:
    import bz2

    bomb = bz2.compress(
        b"\0" * (40 << 20)
    )  # 40 MiB of zeros after the end of an (empty) archive: ~50 bytes packed
    limits = ReleaseLimits(max_members=10, max_member_bytes=1024, max_total_bytes=1024)
    with pytest.raises(InvalidDistribution, match="unpacks to more than"):
        read_release(io.BytesIO(bomb), BlobStore(tmp_path / "blobs"), "test", limits)
