"""Reading a Pyodide release archive (``pyodide-<version>.tar.bz2``) safely, in one streaming pass.

The archive is never extracted by its member paths: every regular file under its top folder ``pyodide/`` is written
into the blob store's temporary area (hashed on the way) and kept there, uncommitted, under the name the archive gives
it, so the import can check it against the lock before anything is published. Absolute paths, ``..``, links, devices,
FIFOs and members outside ``pyodide/`` refuse the whole archive; sizes and member counts are bounded.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from farm.dist.archive import unsafe_member_name
from farm.errors import InvalidDistribution
from farm.store.blobs import BlobStore, BlobWriter

TOP = "pyodide"
CHUNK = 1 << 20


@dataclass(frozen=True)
class ReleaseLimits:
    """Bounds on one release archive (a real Pyodide 314 release: ~400 members, ~400 MB unpacked)."""

    max_members: int = 20_000
    max_member_bytes: int = 1024**3
    max_total_bytes: int = 16 * 1024**3
    max_lock_bytes: int = 64 * 1024**2


@dataclass(frozen=True)
class StagedFile:
    """A member of the archive, written and hashed, waiting in the blob store's temporary area."""

    name: str  # its path under pyodide/
    sha256: str
    size: int
    writer: BlobWriter

    @property
    def path(self) -> Path:
        return self.writer.path


@dataclass
class ReleaseContents:
    """What one archive held: its files (uncommitted), its sha256 and size. ``discard`` removes what is left."""

    files: dict[str, StagedFile] = field(default_factory=dict)
    archive_sha256: str = ""
    archive_bytes: int = 0

    def discard(self) -> None:
        for staged in self.files.values():
            staged.writer.discard()


class _HashingReader:
    """A read-only stream that hashes what passes through it (the archive's own sha256, checked against
    ``--sha256``)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


class _Prefetcher:
    """Reads the underlying stream in a thread, so that the network or disk read overlaps decompression (which,
    like hashing, releases the GIL): the import keeps up with ``tar -x`` running its decompressor in a pipe."""

    def __init__(self, raw: IO[bytes], depth: int = 8) -> None:
        self.raw = raw
        self.chunks: queue.Queue[bytes | Exception] = queue.Queue(depth)
        self.buffer = b""
        self.done = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                data = self.raw.read(CHUNK)
                self.chunks.put(data)
                if not data:
                    return
        except Exception as exc:  # noqa: BLE001 - handed to the reading thread, which raises it
            self.chunks.put(exc)

    def read(self, size: int = -1) -> bytes:
        while not self.done and (size < 0 or len(self.buffer) < size):
            item = self.chunks.get()
            if isinstance(item, Exception):
                raise item
            if not item:
                self.done = True
            self.buffer += item
        if size < 0:
            size = len(self.buffer)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self.chunks.get_nowait()
        self.thread.join(5)


def member_path(member: tarfile.TarInfo, display: str) -> str | None:
    """The path under ``pyodide/`` of a regular file member; None for directories. Anything else refuses the
    archive."""
    name = member.name
    if "\0" in name or "\\" in name or unsafe_member_name(name):
        raise InvalidDistribution(
            f"{display}: unsafe path {name!r} in the archive (absolute, containing '..' or a backslash); "
            "a release archive holds relative paths under pyodide/ only; nothing was imported"
        )
    parts = [p for p in PurePosixPath(name).parts if p != "."]
    if not parts or parts[0] != TOP:
        raise InvalidDistribution(
            f"{display}: {name!r} is outside the archive's pyodide/ folder; not a Pyodide release archive "
            "(pyodide-<version>.tar.bz2); nothing was imported"
        )
    if member.isdir():
        return None
    if not member.isfile():
        kind = "a link" if member.issym() or member.islnk() else "a device, FIFO or other special file"
        raise InvalidDistribution(
            f"{display}: {name!r} is {kind}; a release archive holds regular files only; nothing was imported"
        )
    if len(parts) == 1:
        return None  # the folder itself written as a file entry would be odd; nothing to keep
    return "/".join(parts[1:])


def read_release(
    stream: BinaryIO, blobs: BlobStore, display: str, limits: ReleaseLimits | None = None
) -> ReleaseContents:
    """Stream the archive (bz2, gzip or plain tar: detected from its bytes) into staged blobs; on any error every
    staged file is removed and the error raised."""
    limits = limits or ReleaseLimits()
    prefetch = _Prefetcher(stream)
    reader = _HashingReader(prefetch)  # type: ignore[arg-type]  # it has read(), all tarfile needs
    contents = ReleaseContents()
    try:
        try:
            with tarfile.open(fileobj=reader, mode="r|*") as archive:  # type: ignore[call-overload]
                for count, member in enumerate(_members(archive), start=1):
                    if count > limits.max_members:
                        raise InvalidDistribution(
                            f"{display}: more than {limits.max_members} members; not a Pyodide release archive"
                        )
                    name = member_path(member, display)
                    if name is None:
                        continue
                    _check_size(member, contents, limits, display)
                    if name in contents.files:
                        raise InvalidDistribution(f"{display}: {name!r} appears twice in the archive")
                    contents.files[name] = _stage(archive, member, name, blobs, display)
            reader.drain()  # tar's end-of-archive blocks and padding: the sha256 is over every byte
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            if isinstance(exc, InvalidDistribution):
                raise
            raise InvalidDistribution(
                f"{display}: unreadable archive ({exc}); expected pyodide-<version>.tar.bz2 (or .tar.gz, .tar) "
                "as a Pyodide release publishes it; nothing was imported"
            ) from exc
    except BaseException:
        contents.discard()
        raise
    finally:
        prefetch.close()
    contents.archive_sha256 = reader.digest.hexdigest()
    contents.archive_bytes = reader.size
    return contents


def _members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (member := archive.next()) is not None:
        yield member


def _check_size(
    member: tarfile.TarInfo, contents: ReleaseContents, limits: ReleaseLimits, display: str
) -> None:
    if member.size > limits.max_member_bytes:
        raise InvalidDistribution(
            f"{display}: {member.name!r} is {member.size} bytes, more than {limits.max_member_bytes}; "
            "nothing was imported"
        )
    total = sum(f.size for f in contents.files.values()) + member.size
    if total > limits.max_total_bytes:
        raise InvalidDistribution(
            f"{display}: unpacks to more than {limits.max_total_bytes} bytes; nothing was imported"
        )


def _stage(
    archive: tarfile.TarFile, member: tarfile.TarInfo, name: str, blobs: BlobStore, display: str
) -> StagedFile:
    source = archive.extractfile(member)
    if source is None:  # a regular file always has a stream; defensive
        raise InvalidDistribution(f"{display}: {member.name!r} has no content")
    writer = BlobWriter(blobs, member.size)
    try:
        with source:
            while chunk := source.read(CHUNK):
                writer.write(chunk)
        if writer.size != member.size:
            raise InvalidDistribution(f"{display}: {member.name!r} is truncated")
        writer.finish()
    except BaseException:
        writer.discard()
        raise
    return StagedFile(name, writer.sha256, writer.size, writer)
