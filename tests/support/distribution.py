"""Pyodide release archives for tests, in the layout of ``pyodide-<version>.tar.bz2`` (a ``pyodide/`` folder with
runtime files, ``pyodide-lock.json`` and every file the lock lists), made from the real npm runtime and wheels the
tests make; hostile variants; and a loopback HTTP server for them."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import shutil
import tarfile
import zipfile
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.support.loopback import LoopbackServer
from tests.support.wheels import make_wheel

RUNTIME_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip")

# The smallest shared library Pyodide can load: a wasm module with only a dylink.0 section (memory info: no data, no
# table). Hand-written bytes (wasm binary format, tool-conventions/DynamicLinking.md), so no compiler is needed.
TINY_SIDE_MODULE = (
    b"\0asm\x01\x00\x00\x00"  # magic, version 1
    + b"\x00\x0f"  # custom section, 15 bytes
    + b"\x08dylink.0"
    + b"\x01\x04\x00\x00\x00\x00"  # WASM_DYLINK_MEM_INFO: memory size, alignment, table size, alignment = 0
)


@dataclass
class Locked:
    """A file of the distribution and its lock entry (fields as in pyodide-lock.json)."""

    path: Path
    name: str
    version: str
    imports: list[str] = field(default_factory=list)
    depends: list[str] = field(default_factory=list)
    package_type: str = "package"
    install_dir: str = "site"
    unvendored_tests: bool = False

    def entry(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "file_name": self.path.name,
            "install_dir": self.install_dir,
            "sha256": hashlib.sha256(self.path.read_bytes()).hexdigest(),
            "package_type": self.package_type,
            "imports": self.imports,
            "depends": self.depends,
            "unvendored_tests": self.unvendored_tests,
            "tool": {},
        }


def shared_library_zip(directory: Path, name: str, version: str) -> Path:
    """A shared-library package as Pyodide ships them: ``<name>-<version>.zip`` holding ``<name>.so``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{version}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo(f"{name}.so", date_time=(2026, 1, 1, 0, 0, 0)), TINY_SIDE_MODULE)
    return path


def release_files(directory: Path, prefix: str = "") -> list[Locked]:
    """hello-dist (lock depends: tinycolor, libtiny; unvendored tests), tinycolor 1.0, the shared library libtiny
    and hello-dist's test archive. hello-dist's METADATA names no dependency: only the lock says it."""
    hello = f"{prefix}hello-dist"
    module = hello.replace("-", "_")
    tiny_module = f"{prefix}tinycolor".replace("-", "_")
    hello_wheel = make_wheel(
        directory,
        hello,
        "1.0",
        module_source=f"from {tiny_module} import NAME\ndef hello():\n    return f'hello {{NAME}}'\n",
        extra_entries={f"{module}-1.0.dist-info/top_level.txt": f"{module}\n".encode()},
    )
    tiny = make_wheel(
        directory, f"{prefix}tinycolor", "1.0", module_source="NAME = 'from the distribution'\n"
    )
    tests_zip = directory / f"{hello}-tests.zip"
    with zipfile.ZipFile(tests_zip, "w") as archive:
        archive.writestr(f"{module}/test_{module}.py", "def test_hello():\n    assert True\n")
    return [
        Locked(
            hello_wheel,
            hello,
            "1.0",
            imports=[module],
            depends=[f"{prefix}tinycolor", f"{prefix}libtiny"],
            unvendored_tests=True,
        ),
        Locked(tiny, f"{prefix}tinycolor", "1.0", imports=[f"{prefix}tinycolor".replace("-", "_")]),
        Locked(
            shared_library_zip(directory, f"{prefix}libtiny", "1.0"),
            f"{prefix}libtiny",
            "1.0",
            package_type="shared_library",
            install_dir="dynlib",
        ),
        Locked(tests_zip, f"{hello}-tests", "1.0", depends=[hello]),
    ]


def npm_info(pyodide_dir: Path) -> dict[str, Any]:
    return dict(json.loads((pyodide_dir / "pyodide-lock.json").read_text())["info"])


def make_release(
    target: Path,
    pyodide_dir: Path | None,
    files: list[Locked],
    *,
    info: dict[str, Any],
    tamper: str | None = None,
    drop: str | None = None,
    compression: str = "bz2",
) -> Path:
    """``target`` (``.tar.bz2``, ``.tar.gz`` or ``.tar``): runtime files from ``pyodide_dir`` (if given), the lock
    and ``files``. ``tamper``: that file's bytes are altered after the lock is made; ``drop``: left out."""
    lock = {"info": info, "packages": {f.name.lower(): f.entry() for f in files}}
    members: list[tuple[str, bytes]] = [("pyodide/pyodide-lock.json", json.dumps(lock).encode())]
    for name in RUNTIME_FILES if pyodide_dir is not None else ():
        assert pyodide_dir is not None
        members.append((f"pyodide/{name}", (pyodide_dir / name).read_bytes()))
    for locked in files:
        if locked.path.name == drop:
            continue
        data = locked.path.read_bytes()
        if locked.path.name == tamper:
            data = data[:-30] + bytes(b ^ 0x55 for b in data[-30:])
        members.append((f"pyodide/{locked.path.name}", data))
    write_tar(target, members, compression)
    return target


def publish_index(files: list[Locked], index_dir: Path, lock_dir: Path, info: dict[str, Any]) -> Path:
    """A Pyodide package index as pyodide-recipes publishes one: the wheels in ``index_dir`` (served as a simple
    index), the lock of every file and the files that are not wheels (shared libraries, test archives) in
    ``lock_dir`` (served beside each other). Returns the lock's path."""
    index_dir.mkdir(parents=True, exist_ok=True)
    lock_dir.mkdir(parents=True, exist_ok=True)
    for locked in files:
        target = index_dir if locked.path.name.endswith(".whl") else lock_dir
        shutil.copy(locked.path, target / locked.path.name)
    lock = lock_dir / "pyodide-lock.json"
    lock.write_text(json.dumps({"info": info, "packages": {f.name.lower(): f.entry() for f in files}}))
    return lock


def write_tar(target: Path, members: list[tuple[str, bytes]], compression: str = "bz2") -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = {"bz2": "w:bz2", "gz": "w:gz", "": "w"}[compression]
    with tarfile.open(target, mode) as archive:  # type: ignore[call-overload]
        directory = tarfile.TarInfo("pyodide")
        directory.type, directory.mode = tarfile.DIRTYPE, 0o755
        archive.addfile(directory)
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_767_225_600, 0o644
            archive.addfile(info, io.BytesIO(data))


def hostile_release(target: Path, kind: str, info: dict[str, Any]) -> Path:
    """A small archive with a valid lock (no packages) and one hostile member: ``dotdot`` (``pyodide/../x``),
    ``absolute`` (``/tmp/x``), ``symlink`` (to ``/etc/passwd``), ``hardlink``, ``device`` (a character device)."""
    lock = json.dumps({"info": info, "packages": {}}).encode()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:bz2") as archive:
        good = tarfile.TarInfo("pyodide/pyodide-lock.json")
        good.size = len(lock)
        archive.addfile(good, io.BytesIO(lock))
        payload = b"owned\n"
        if kind in ("dotdot", "absolute"):
            bad = tarfile.TarInfo(
                "pyodide/../escaped.txt" if kind == "dotdot" else "/tmp/wasmfarm-escaped.txt"
            )
            bad.size = len(payload)
            archive.addfile(bad, io.BytesIO(payload))
        else:
            bad = tarfile.TarInfo("pyodide/evil.whl")
            if kind == "symlink":
                bad.type, bad.linkname = tarfile.SYMTYPE, "/etc/passwd"
            elif kind == "hardlink":
                bad.type, bad.linkname = tarfile.LNKTYPE, "pyodide/pyodide-lock.json"
            elif kind == "device":
                bad.type, bad.devmajor, bad.devminor = tarfile.CHRTYPE, 1, 3
            else:
                raise ValueError(kind)
            archive.addfile(bad)
    return target


class FileServer(LoopbackServer):
    """A directory served over HTTP on loopback (the place a release archive is published)."""

    def __init__(self, directory: Path) -> None:
        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(functools.partial(Quiet, directory=str(directory)))  # type: ignore[arg-type]
