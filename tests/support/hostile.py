"""Hostile distribution files, made small and fast: each one is what an attacker would upload or serve upstream."""

from __future__ import annotations

import gzip
import io
import random
import tarfile
import zipfile
from pathlib import Path

from tests.support.wheels import make_sdist, make_wheel


def wheel_with_bad_crc(directory: Path) -> Path:
    """A wheel whose METADATA bytes no longer match the CRC in its headers (zipfile raises BadZipFile)."""
    path = make_wheel(directory, "demo", "1.0")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("demo-1.0.dist-info/METADATA")
    # Stored member data starts after the 30-byte local header, its name and extra field.
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def wheel_with_lying_record(directory: Path, how: str) -> Path:
    """A wheel whose RECORD lies: a wrong ``hash``, a wrong ``size``, or a file it does not list (``unlisted``)."""
    path = make_wheel(directory, "demo", "1.0")
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    record_name = "demo-1.0.dist-info/RECORD"
    lines = entries[record_name].decode().splitlines()
    if how == "hash":
        entries["demo/__init__.py"] = b'VALUE = "tampered"\n'
    elif how == "size":
        lines = [
            f"{line.rsplit(',', 1)[0]},9999" if line.startswith("demo/__init__.py,") else line
            for line in lines
        ]
    elif how == "unlisted":
        entries["demo/backdoor.py"] = b"import os\n"
    entries[record_name] = ("\n".join(lines) + "\n").encode()
    path.unlink()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return path


def wheel_with_huge_metadata(directory: Path, size: int) -> Path:
    """A wheel whose METADATA is ``size`` bytes: a valid header and a long description that compresses about 150x,
    so no zip-bomb ratio catches it (the issue's 1.4 MB wheel with 200 MiB of METADATA)."""
    path = make_wheel(directory, "demo", "1.0")
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    head = entries["demo-1.0.dist-info/METADATA"]
    rng = random.Random(size)
    block = bytearray(b"A" * 1024 * 1024)
    for at in range(0, len(block), 400):  # one random letter every 400 bytes defeats deflate's long matches
        block[at] = rng.randrange(65, 91)
    body = bytes(block) * (size // len(block) + 1)
    entries["demo-1.0.dist-info/METADATA"] = head + body[: size - len(head)]
    path.unlink()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return path


def wheel_with_many_entries(directory: Path, count: int) -> Path:
    return make_wheel(directory, "demo", "1.0", extra_entries={f"demo/m{i}.py": b"" for i in range(count)})


def sdist_with_many_members(directory: Path, count: int) -> Path:
    """A small .tar.gz with a valid PKG-INFO and ``count`` empty members (300,000 make the issue's 2 MB sdist)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "demo-1.0.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=1, format=tarfile.USTAR_FORMAT) as archive:
        data = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\n"
        info = tarfile.TarInfo("demo-1.0/PKG-INFO")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
        for i in range(count):
            archive.addfile(tarfile.TarInfo(f"demo-1.0/f/{i}"))
    return path


def sdist_bomb(directory: Path, declared: int) -> Path:
    """A valid .tar.gz of a few KB whose member declares ``declared`` bytes of zeros (a gunzip bomb)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "demo-1.0.tar.gz"
    header = tarfile.TarInfo("demo-1.0/zeros.bin")
    header.size = declared
    raw = io.BytesIO()
    raw.write(header.tobuf(format=tarfile.PAX_FORMAT))
    with gzip.open(path, "wb") as out:
        out.write(raw.getvalue())
        chunk = b"\0" * (1024 * 1024)
        for _ in range(min(declared, 64 * 1024 * 1024) // len(chunk)):  # 64 MiB of real zeros, then it ends
            out.write(chunk)
    return path


def sdist_with_escaping_member(directory: Path) -> Path:
    return make_sdist(
        directory, "demo", "1.0", extra_members={"demo-1.0/../../etc/cron.d/x": b"* * * * * root id"}
    )


def sdist_with_huge_pax_header(directory: Path, size: int) -> Path:
    """A .tar.gz whose first header is a PAX extended header of ``size`` zeros: tarfile would read it whole."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "demo-1.0.tar.gz"
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, size
    with gzip.open(path, "wb") as out:
        out.write(header.tobuf(format=tarfile.USTAR_FORMAT))
        chunk = b"\0" * (1024 * 1024)
        for _ in range(size // len(chunk)):
            out.write(chunk)
    return path


def sdist_with_bad_sparse_map(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "demo-1.0.tar.gz"
    info = tarfile.TarInfo("demo-1.0/sparse")
    info.pax_headers = {"GNU.sparse.map": "a,b", "GNU.sparse.major": "0", "GNU.sparse.minor": "1"}
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(info, io.BytesIO(b""))
    return path


def wheel_with_odd_member(directory: Path, how: str) -> Path:
    """A wheel whose METADATA is flagged encrypted (``encrypted``) or uses an unknown compression method."""
    path = make_wheel(directory, "demo", "1.0")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("demo-1.0.dist-info/METADATA")
    central = bytes(data).find(b"PK\x01\x02", 0)
    while central >= 0 and data[central + 46 : central + 46 + len(info.filename)] != info.filename.encode():
        central = bytes(data).find(b"PK\x01\x02", central + 4)
    for flags_at, method_at in (
        (info.header_offset + 6, info.header_offset + 8),
        (central + 8, central + 10),
    ):
        if how == "encrypted":
            data[flags_at] |= 1
        else:
            data[method_at : method_at + 2] = (99).to_bytes(2, "little")
    path.write_bytes(bytes(data))
    return path


def wheel_hiding_its_end_record(directory: Path, entries: int) -> Path:
    """A wheel with many entries whose end record's directory-offset field holds the end record's own signature,
    so a naive backwards search lands inside the record (zipfile still opens it)."""
    path = wheel_with_many_entries(directory, entries)
    data = bytearray(path.read_bytes())
    end = len(data) - 22
    assert data[end : end + 4] == b"PK\x05\x06"
    data[end + 16 : end + 20] = b"PK\x05\x06"
    path.write_bytes(bytes(data))
    return path
