"""Reading a Pyodide release archive (``pyodide-<version>.tar.bz2``) safely, in one streaming pass.

The archive is never extracted by its member paths: every regular file under its top folder ``pyodide/`` is written
into the blob store's temporary area (hashed on the way) and kept there, uncommitted, under the name the archive gives
it, so the import can check it against the lock before anything is published. Absolute paths, ``..``, links, devices,
FIFOs and members outside ``pyodide/`` refuse the whole archive; sizes and member counts are bounded.
"""

from __future__ import annotations

import bz2
import contextlib
import hashlib
import lzma
import queue
import tarfile
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO

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


class _Decompressors:
    """One decompressor after another over concatenated streams (pbzip2 and pigz write several)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self.current = factory()

    def __call__(self, data: bytes) -> bytes:
        out = []
        while data:
            if self.current.eof:
                self.current = self.factory()
            out.append(self.current.decompress(data))
            data = self.current.unused_data if self.current.eof else b""
        return b"".join(out)


def _decompressor_for(head: bytes) -> Callable[[bytes], bytes]:
    """bz2, gzip, xz or none, from the archive's first bytes (as ``tar -x`` tells them)."""
    if head.startswith(b"BZh"):
        return _Decompressors(bz2.BZ2Decompressor)
    if head.startswith(b"\x1f\x8b"):
        return _Decompressors(lambda: zlib.decompressobj(16 + zlib.MAX_WBITS))
    if head.startswith(b"\xfd7zXZ\x00"):
        return _Decompressors(lzma.LZMADecompressor)
    return lambda data: data


class _Inflater:
    """Reads the archive in a thread: hashes it (its sha256, checked against ``--sha256``) and decompresses it, so
    that decompression (which, like hashing, releases the GIL) overlaps the hashing, checking and writing of the
    members in the calling thread, as ``tar -x`` overlaps them by running its decompressor in a pipe. What it hands
    over is bounded (a queue of a few chunks, and at most ``limit`` bytes in all: a decompression bomb stops)."""

    def __init__(self, raw: IO[bytes], limit: int, depth: int = 8) -> None:
        self.raw = raw
        self.limit = limit
        self.digest = hashlib.sha256()
        self.size = 0
        self.chunks: queue.Queue[bytes | Exception] = queue.Queue(depth)
        self.buffer = b""
        self.offset = 0
        self.done = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _read_raw(self) -> bytes:
        data = self.raw.read(CHUNK)
        self.digest.update(data)
        self.size += len(data)
        return data

    def _run(self) -> None:
        try:
            data = self._read_raw()
            decompress = _decompressor_for(data)
            produced = 0
            while data and not self.stop.is_set():
                out = decompress(data)
                produced += len(out)
                if produced > self.limit:
                    raise InvalidDistribution(f"the archive unpacks to more than {self.limit} bytes")
                if out:
                    self.chunks.put(out)
                data = self._read_raw()
            self.chunks.put(b"")
        except Exception as exc:  # noqa: BLE001 - handed to the reading thread, which raises it
            self.chunks.put(exc)

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` decompressed bytes (fewer only at the end); copies only what it returns."""
        if self.offset >= len(self.buffer) and not self.done:
            item = self.chunks.get()
            if isinstance(item, Exception):
                self.done = True
                raise item
            self.buffer, self.offset = item, 0
            self.done = not item
        if size < 0 or size > len(self.buffer) - self.offset:
            data = self.buffer[self.offset :]
            self.offset = len(self.buffer)
            if size > len(data) and not self.done:
                return data + self.read(size - len(data))
            return data
        data = self.buffer[self.offset : self.offset + size]
        self.offset += size
        return data

    def drain(self) -> None:
        """Read to the end: the sha256 is over every byte (tar's end blocks and padding too)."""
        while self.read(CHUNK):
            pass
        self.thread.join()

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
    # Tar headers, padding and end blocks on top of the content: a generous bound, the content's is checked per member.
    inflater = _Inflater(stream, limits.max_total_bytes + limits.max_members * 1024 + CHUNK * 16)
    contents = ReleaseContents()
    try:
        try:
            with tarfile.open(fileobj=inflater, mode="r|") as archive:  # type: ignore[call-overload]
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
            inflater.drain()
        except (tarfile.TarError, EOFError, OSError, ValueError, lzma.LZMAError, zlib.error) as exc:
            if isinstance(exc, InvalidDistribution):
                raise
            raise InvalidDistribution(
                f"{display}: unreadable archive ({exc}); expected pyodide-<version>.tar.bz2 (or .tar.gz, .tar.xz, "
                ".tar) as a Pyodide release publishes it; nothing was imported"
            ) from exc
        except InvalidDistribution as exc:
            if str(exc).startswith(display):
                raise
            raise InvalidDistribution(f"{display}: {exc}; nothing was imported") from exc
    except BaseException:
        contents.discard()
        raise
    finally:
        inflater.close()
    contents.archive_sha256 = inflater.digest.hexdigest()
    contents.archive_bytes = inflater.size
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
