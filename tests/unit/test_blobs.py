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
