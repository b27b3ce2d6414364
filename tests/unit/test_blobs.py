import hashlib
import io
import os
from pathlib import Path

import pytest

from farm.errors import UploadTooLarge
from farm.store.blobs import BlobStore


def test_put_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    digest = store.put_bytes(b"hello")
    assert digest == hashlib.sha256(b"hello").hexdigest()
    assert store.path_for(digest).read_bytes() == b"hello"
    assert store.put_bytes(b"hello") == digest
    assert list((tmp_path / ".tmp").iterdir()) == []


def test_limit_leaves_nothing_behind(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(UploadTooLarge, match="size limit of 3 bytes"):
        store.put_stream(io.BytesIO(b"too long"), limit=3)
    assert list((tmp_path / ".tmp").iterdir()) == []
    assert not any(p.is_file() for p in tmp_path.rglob("*") if ".tmp" not in p.parts)


def test_reset_starts_over(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with store.writer() as writer:
        writer.write(b"partial garbage")
        writer.reset()
        writer.write(b"good")
        digest = writer.commit()
    assert store.path_for(digest).read_bytes() == b"good"


def test_sweep_removes_only_dead_writers(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    tmp = tmp_path / ".tmp"
    tmp.mkdir(exist_ok=True)
    dead = tmp / "999999999-abc.part"
    dead.write_bytes(b"x")
    alive = tmp / f"{os.getpid()}-abc.part"
    alive.write_bytes(b"x")
    assert store.sweep_temporaries() == 1
    assert not dead.exists() and alive.exists()


def test_rejects_non_digests(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a sha256"):
        BlobStore(tmp_path).path_for("../../etc/passwd")


def test_published_files_are_readable_by_others(tmp_path: Path) -> None:
    """nginx in front runs as another user: blobs and pages must not keep mkstemp's 0600."""
    from farm.store.blobs import atomic_write

    store = BlobStore(tmp_path)
    digest = store.put_bytes(b"x")
    atomic_write(tmp_path / "page.html", b"<html>")
    umask = os.umask(0)
    os.umask(umask)
    expected = 0o666 & ~umask
    assert store.path_for(digest).stat().st_mode & 0o777 == expected
    assert (tmp_path / "page.html").stat().st_mode & 0o777 == expected


def test_a_temporary_name_left_by_a_dead_process_is_stepped_over(tmp_path: Path) -> None:
    """Temporary names are the pid and a counter: a leftover of an earlier process with the same pid (pids are
    reused) takes the next number, and is neither overwritten nor published."""
    from farm.store import blobs

    upcoming = next(blobs._SERIAL) + 1
    leftovers = [tmp_path / f"{os.getpid()}-{upcoming + i}.part" for i in range(3)]
    for leftover in leftovers:
        leftover.write_bytes(b"left by a crash")
    blobs.atomic_write(tmp_path / "page.html", b"<html>new</html>")
    assert (tmp_path / "page.html").read_bytes() == b"<html>new</html>"
    assert all(leftover.read_bytes() == b"left by a crash" for leftover in leftovers)
    assert sorted(p.name for p in tmp_path.glob("*.part")) == sorted(p.name for p in leftovers)


def test_a_failed_write_leaves_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from farm.store import blobs

    (tmp_path / "page.html").write_bytes(b"old")

    def full(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(blobs.os, "write", full)
    with pytest.raises(OSError, match="No space"):
        blobs.atomic_write(tmp_path / "page.html", b"new")
    monkeypatch.undo()
    assert (tmp_path / "page.html").read_bytes() == b"old"
    assert list(tmp_path.glob("*.part")) == []
