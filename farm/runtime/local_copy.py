"""A local copy of a runtime that a wasmfarm server serves, for Node: its ``loadPyodide`` needs a filesystem
``indexURL`` (an http one fails with ``ERR_MODULE_NOT_FOUND``), while wheels can still come from the server through
``packageBaseUrl``.

The server lists the runtime's files with their sizes and sha256 in ``/pyodide/<version>/wasmfarm-runtime.json``;
every file is checked against it before it is given its name (a temporary name first, then a rename), files already
present and intact are kept. The lock is taken as the server generates it now (its ``info`` must be the runtime's),
and wheels asked for are checked against the lock's sha256.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
from packaging.utils import canonicalize_name

from farm.errors import (
    InvalidDistribution,
    NotFound,
    PermissionDenied,
    UpstreamIntegrityError,
    UpstreamUnavailable,
)
from farm.runtime.distribution import MANIFEST
from farm.store.blobs import atomic_write

LOCK = "pyodide-lock.json"
SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class RemoteFile:
    name: str  # relative POSIX path inside the runtime directory
    size: int | None
    sha256: str


@dataclass(frozen=True)
class LocalCopy:
    directory: Path
    package_base_url: str  # where Node's loadPyodide fetches locked wheels that are not in the directory
    downloaded: tuple[str, ...]  # files fetched by this run
    kept: tuple[str, ...]  # files that were present already and matched
    wheels: tuple[str, ...]  # locked wheels copied (with their lock dependencies)


def runtime_base_url(server_url: str, version: str) -> str:
    return f"{server_url.rstrip('/')}/pyodide/{version}/"


def fetch_runtime(
    server_url: str,
    version: str,
    directory: Path,
    packages: tuple[str, ...] = (),
    timeout: float = 60.0,
    token: str | None = None,
) -> LocalCopy:
    """Copy runtime ``version`` from the server at ``server_url`` into ``directory``, verified file by file; with
    ``packages``, also the lock's wheels of those packages and their lock dependencies (for ``packageCacheDir``); a
    package the runtime's lock does not list (only mirrored) is locked by the server, and its entries are added to
    the copy's lock.
    ``token``: a read token, for a server with ``require_read_token`` (sent as HTTP Basic ``__token__``)."""
    base = runtime_base_url(server_url, version)
    directory.mkdir(parents=True, exist_ok=True)
    downloaded: list[str] = []
    kept: list[str] = []
    auth = ("__token__", token) if token else None
    with httpx.Client(timeout=timeout, follow_redirects=True, auth=auth) as client:
        manifest = _get_json(client, base + MANIFEST, f"runtime {version}")
        files, info = _parse_manifest(manifest, base + MANIFEST)
        for remote in files:
            (downloaded if _copy(client, base, remote, directory) else kept).append(remote.name)
        lock = _get_json(client, base + LOCK, f"the lock of runtime {version}")
        _check_lock(lock, info, base + LOCK)
        missing = [p for p in packages if canonicalize_name(p) not in lock["packages"]]
        if missing:  # only mirrored (setting runtime_lock = own): the server locks them with their closure
            url = f"{server_url.rstrip('/')}/r/{version}/lock"
            extra = _locked_for(client, url, missing, base + LOCK)
            _check_lock(extra, info, url)
            for name, entry in extra["packages"].items():
                lock["packages"].setdefault(name, entry)  # the copy's lock can loadPackage them by name
        wheels = _locked_files(lock, packages, base + LOCK)
        for remote in wheels:
            (downloaded if _copy(client, base, remote, directory) else kept).append(remote.name)
        atomic_write(directory / LOCK, json.dumps(lock, indent=1).encode())
        downloaded.append(LOCK)
    return LocalCopy(directory, base, tuple(downloaded), tuple(kept), tuple(w.name for w in wheels))


def _get_json(client: httpx.Client, url: str, what: str) -> Any:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"{url}: {exc}; is the wasmfarm server running at that address?") from exc
    if response.status_code in (401, 403):
        raise PermissionDenied(
            f"{url} answered {response.status_code}: the server wants a read token (--token, or WASMFARM_TOKEN)"
        )
    if response.status_code == 404:
        raise NotFound(
            f"{url} answered 404: the server does not serve {what} (`wasmfarm runtime list` on the server shows "
            "what it serves; a server older than the runtime file list needs an upgrade)"
        )
    if response.status_code != 200:
        raise UpstreamUnavailable(f"{url}: HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise InvalidDistribution(f"{url}: not JSON ({exc})") from exc


def _locked_for(client: httpx.Client, url: str, requirements: list[str], runtime_lock: str) -> Any:
    """The server-side lock of ``requirements`` (``POST /r/<version>/lock``), which the runtime's lock does not
    list."""
    try:
        response = client.post(url, json={"requirements": requirements})
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"{url}: {exc}; is the wasmfarm server running at that address?") from exc
    if response.status_code in (401, 403):
        raise PermissionDenied(
            f"{url} answered {response.status_code}: the server wants a read token (--token, or WASMFARM_TOKEN)"
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        message = body.get("message") if isinstance(body, dict) else None
        raise NotFound(
            f"{runtime_lock} has no package {canonicalize_name(requirements[0])!r}, and the server cannot lock "
            f"{', '.join(requirements)} either ({url}: {message or f'HTTP {response.status_code}'})"
        )
    return body


def _parse_manifest(manifest: Any, url: str) -> tuple[list[RemoteFile], dict[str, Any]]:
    """The file list, refused whole if any entry is malformed or would land outside the directory."""
    problems: list[str] = []
    files: list[RemoteFile] = []
    entries = manifest.get("files") if isinstance(manifest, dict) else None
    info = manifest.get("info") if isinstance(manifest, dict) else None
    if not isinstance(entries, list) or not isinstance(info, dict):
        raise InvalidDistribution(f"{url}: expected an object with 'files' (a list) and 'info' (an object)")
    for i, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        size = entry.get("size") if isinstance(entry, dict) else None
        sha256 = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not _safe_relative(name):
            problems.append(f"files[{i}].name {name!r} is not a relative path inside the runtime")
        elif not isinstance(size, int) or isinstance(size, bool) or size < 0:
            problems.append(f"files[{i}] ({name}): size {size!r} is not a byte count")
        elif not isinstance(sha256, str) or not SHA256.fullmatch(sha256):
            problems.append(f"files[{i}] ({name}): sha256 {sha256!r} is not 64 hex digits")
        else:
            files.append(RemoteFile(name, size, sha256))
    if problems:
        raise InvalidDistribution(f"{url}: " + "; ".join(problems))
    return files, info


def _safe_relative(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        bool(name)
        and not path.is_absolute()
        and all(part not in ("", ".", "..") and not part.startswith(".") for part in path.parts)
        and "\\" not in name
        and name not in (LOCK, MANIFEST)
    )


def _check_lock(lock: Any, info: dict[str, Any], url: str) -> None:
    if not isinstance(lock, dict) or not isinstance(lock.get("packages"), dict):
        raise InvalidDistribution(f"{url}: not a pyodide-lock.json (no 'packages' object)")
    got: dict[str, Any] = lock["info"] if isinstance(lock.get("info"), dict) else {}
    for key in ("abi_version", "python"):
        if got.get(key) != info.get(key):
            raise InvalidDistribution(
                f"{url}: the lock says {key} {got.get(key)!r}, the runtime's files say {info.get(key)!r}; "
                "Node would refuse to boot with it"
            )


def _locked_files(lock: dict[str, Any], packages: tuple[str, ...], url: str) -> list[RemoteFile]:
    """The lock entries of ``packages`` and their lock dependencies, by normalised name."""
    entries: dict[str, Any] = lock["packages"]
    wanted: dict[str, RemoteFile] = {}
    todo: list[str] = [canonicalize_name(p) for p in packages]
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        entry = entries.get(name)
        if not isinstance(entry, dict):
            known = ", ".join(sorted(entries)[:20])
            raise NotFound(
                f"{url} has no package {name!r}; it locks: {known}{' ...' if len(entries) > 20 else ''}"
            )
        file_name, sha256 = entry.get("file_name"), entry.get("sha256")
        if not isinstance(file_name, str) or "/" in file_name or not _safe_relative(file_name):
            raise InvalidDistribution(f"{url}: package {name!r} has file_name {file_name!r}, not a file name")
        if not isinstance(sha256, str) or not SHA256.fullmatch(sha256):
            raise InvalidDistribution(f"{url}: package {name!r} has sha256 {sha256!r}, not 64 hex digits")
        wanted[name] = RemoteFile(file_name, None, sha256)
        depends = entry.get("depends", [])
        todo.extend(d for d in depends if isinstance(d, str))
    return sorted(wanted.values(), key=lambda f: f.name)


def _matches(path: Path, remote: RemoteFile) -> bool:
    if not path.is_file() or (remote.size is not None and path.stat().st_size != remote.size):
        return False
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == remote.sha256


def _copy(client: httpx.Client, base: str, remote: RemoteFile, directory: Path) -> bool:
    """Download one file unless an intact copy is there; True when it was downloaded."""
    target = directory.joinpath(*PurePosixPath(remote.name).parts)
    if _matches(target, remote):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    url = base + remote.name
    fd, temp = tempfile.mkstemp(
        prefix=".dl-", suffix=".part", dir=target.parent
    )  # a 254-byte name has no room
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out:
            try:
                with client.stream("GET", url) as response:
                    if response.status_code != 200:
                        raise UpstreamUnavailable(f"{url}: HTTP {response.status_code}")
                    for chunk in response.iter_bytes():
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            except httpx.HTTPError as exc:
                raise UpstreamUnavailable(f"{url}: {exc}; try again") from exc
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != remote.sha256 or (remote.size is not None and size != remote.size):
            raise UpstreamIntegrityError(
                f"{url}: got {size} bytes with sha256 {digest.hexdigest()}, the server's list says "
                f"{remote.size if remote.size is not None else '?'} bytes with sha256 {remote.sha256}; nothing "
                "was written (run `wasmfarm fsck` on the server)"
            )
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temp).unlink()
        raise
    return True
