"""Build real, valid wheels (PEP 427: METADATA, WHEEL, RECORD with hashes) for tests."""

from __future__ import annotations

import base64
import hashlib
import random
import zipfile
from pathlib import Path


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(
    directory: Path,
    name: str,
    version: str,
    tag: str = "py3-none-any",
    requires: list[str] | None = None,
    *,
    requires_python: str | None = None,
    metadata_name: str | None = None,
    module_source: str | None = None,
    extra_entries: dict[str, bytes] | None = None,
    padding: int = 0,
) -> Path:
    """A wheel with one importable module ``<name>`` whose ``VALUE`` names the project and version."""
    dist = name.replace("-", "_")
    module = dist.lower()
    filename = f"{dist}-{version}-{tag}.whl"
    info = f"{dist}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {metadata_name or name}", f"Version: {version}"]
    if requires_python:
        metadata.append(f"Requires-Python: {requires_python}")
    metadata += [f"Requires-Dist: {r}" for r in requires or []]
    source = module_source or f'VALUE = "{name} {version}"\n'
    entries: dict[str, bytes] = {
        f"{module}/__init__.py": source.encode(),
        f"{info}/METADATA": ("\n".join(metadata) + "\n\n").encode(),
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: wasmfarm-tests\nRoot-Is-Purelib: true\nTag: {tag}\n".encode(),
    }
    if padding:
        entries[f"{module}/padding.bin"] = random.Random(name).randbytes(padding)  # incompressible
    entries.update(extra_entries or {})
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in entries.items())
    entries[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    path = directory / filename
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data in entries.items():
            info_entry = zipfile.ZipInfo(entry, date_time=(2026, 1, 1, 0, 0, 0))
            info_entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info_entry, data)
    return path


def make_sdist(
    directory: Path,
    name: str,
    version: str,
    *,
    metadata_name: str | None = None,
    requires_python: str | None = None,
    pkg_info: bool = True,
    extra_members: dict[str, bytes] | None = None,
    module: bool = True,
) -> Path:
    """A ``.tar.gz`` sdist with a top-level PKG-INFO (metadata 2.1), a pyproject.toml and one module (unless not
    ``module``); ``extra_members`` (paths under ``<name>-<version>/``) add files or replace these."""
    import io
    import tarfile

    dist = name.replace("-", "_").lower()
    base = f"{dist}-{version}"
    metadata = ["Metadata-Version: 2.1", f"Name: {metadata_name or name}", f"Version: {version}"]
    if requires_python:
        metadata.append(f"Requires-Python: {requires_python}")
    members: dict[str, bytes] = {
        f"{base}/pyproject.toml": f'[project]\nname = "{name}"\nversion = "{version}"\n'.encode(),
    }
    if module:
        members[f"{base}/{dist}.py"] = f'VALUE = "{name} {version}"\n'.encode()
    if pkg_info:
        members[f"{base}/PKG-INFO"] = ("\n".join(metadata) + "\n\n").encode()
    members.update(extra_members or {})
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size, info.mtime = len(data), 1_767_225_600
            archive.addfile(info, io.BytesIO(data))
    return path
