"""A recipe's source, made ready to build: downloaded once (verified, kept in the blob store), unpacked safely,
patched and completed with its extras. Patches run inside the sandbox (``patch`` of the image)."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion

from farm.errors import BuildFailed, UpstreamUnavailable
from farm.mirror.upstream import ACCEPT, parse_html_page, parse_json_page
from farm.recipe.loader import LoadedRecipe
from farm.store.blobs import BlobStore


@dataclass(frozen=True)
class SourceLocations:
    """Where a recipe's source file is looked for, after the blob store, in order: the operator's source mirrors
    (``<mirror>/<filename>``), the recipe's ``source/url``, then the upstream indexes, on the project's page by
    file name or sha256. The sha256 makes any copy as good as the original; PyPI caches often do not answer PyPI's
    ``/packages/source/...`` redirect URLs that most recipes use, but serve the same file where the index lists it."""

    mirrors: tuple[str, ...] = ()
    indexes: tuple[str, ...] = ()
    timeout: float = 120.0


def locations_from(settings: Any) -> SourceLocations:
    indexes = dict.fromkeys([settings.upstream_index, *settings.build_index_urls])
    return SourceLocations(tuple(settings.source_mirrors), tuple(indexes), settings.http_timeout)


def url_filename(url: str) -> str:
    """The file name a download URL ends in (query and fragment left out, %-escapes decoded)."""
    return unquote(PurePosixPath(urlsplit(url).path).name)


def fetch(
    recipe: LoadedRecipe,
    blobs: BlobStore,
    where: SourceLocations,
    log: Callable[[str], None] = lambda _: None,
) -> Path | None:
    """The source archive in the blob store (fetched when missing), or None for an in-tree ``path`` source.

    Each location is tried in turn; a copy whose sha256 is not the recipe's is dropped and the next one tried. A
    source found nowhere is the recipe's problem (``BuildFailed``: not retried) unless some location failed for
    a reason that may pass (a refused connection, a 5xx): then ``UpstreamUnavailable``, retried.
    """
    source = recipe.recipe.source
    if source.url is None or source.sha256 is None:
        return None
    if blobs.has(source.sha256):
        return blobs.path_for(source.sha256)
    filename = url_filename(source.url)
    tried: list[str] = []
    transient = False
    with httpx.Client(timeout=where.timeout, follow_redirects=True, trust_env=True) as client:
        for url in _candidates(client, source.url, filename, source.sha256, where, tried):
            outcome = _download(client, url, source.sha256, blobs)
            tried.append(f"{url}: {outcome or 'ok'}")
            if outcome is None:
                for line in tried:
                    log(f"# source: {line}")
                return blobs.path_for(source.sha256)
            transient = transient or outcome.startswith(("HTTP 5", "HTTP 429", "cannot connect"))
    summary = "; ".join(tried)
    message = f"{recipe.path}: source {filename} (sha256 {source.sha256}) was not found: {summary}"
    if transient:
        raise UpstreamUnavailable(message)
    raise BuildFailed(
        message
        + ". Put the file on a source mirror (setting source_mirrors) or fix source/url and source/sha256"
    )


def _candidates(
    client: httpx.Client, url: str, filename: str, sha256: str, where: SourceLocations, tried: list[str]
) -> Iterator[str]:
    for mirror in where.mirrors:
        yield f"{mirror.rstrip('/')}/{quote(filename)}"
    yield url
    project = _project_of(filename)
    if project is None:
        return
    for index in where.indexes:
        page_url = f"{index.rstrip('/')}/{project}/"
        try:
            response = client.get(page_url, headers={"Accept": ACCEPT})
        except httpx.HTTPError as exc:
            tried.append(f"{page_url}: cannot connect ({type(exc).__name__})")
            continue
        if response.status_code != 200:
            tried.append(f"{page_url}: HTTP {response.status_code}")
            continue
        try:
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
            parse = parse_json_page if content_type.endswith("json") else parse_html_page
            page = parse(project, str(response.url), response.content)
        except UpstreamUnavailable as exc:
            tried.append(f"{page_url}: {exc}")
            continue
        found = [f for f in page.files if f.sha256 == sha256] or [
            f for f in page.files if f.filename == filename
        ]
        if not found:
            tried.append(f"{page_url}: lists no file {filename} or with that sha256")
        for file in found:
            yield file.url


def _project_of(filename: str) -> str | None:
    """The project a distribution file belongs to, from its name (sdist or wheel)."""
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        return str(parse_sdist_filename(filename)[0])
    except (InvalidSdistFilename, InvalidWheelFilename, InvalidVersion):
        stem = filename.rsplit("-", 1)[0] if "-" in filename else ""
        return canonicalize_name(stem) if stem else None


def _download(client: httpx.Client, url: str, sha256: str, blobs: BlobStore) -> str | None:
    """None when the file is in the blob store now, else why not."""
    try:
        with blobs.writer() as writer, client.stream("GET", url) as response:
            if response.status_code != 200:
                return f"HTTP {response.status_code}"
            for chunk in response.iter_bytes(1 << 20):
                writer.write(chunk)
            writer.finish()
            if writer.sha256 != sha256:
                return f"sha256 is {writer.sha256}, not the recipe's"
            writer.commit()
    except httpx.HTTPError as exc:
        return f"cannot connect ({type(exc).__name__}: {exc})"
    return None


def tree_digest(root: Path) -> str:
    """sha256 over the relative paths and contents of every file under ``root`` (in-tree sources, patches)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def unpack(recipe: LoadedRecipe, archive: Path | None, dest: Path) -> Path:
    """Unpack into ``dest/src`` (one top directory stripped, as pyodide-build does); return the build directory."""
    src = dest / "src"
    source = recipe.recipe.source
    if archive is None:
        assert source.path is not None
        shutil.copytree(recipe.directory / source.path, src, symlinks=False)
    elif source.url and source.url.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            _unpack_members(
                zf.namelist(), lambda name, target: target.write_bytes(zf.read(name)), src, recipe
            )
    else:
        try:
            with tarfile.open(archive) as tar:
                _extract_tar(tar, src, recipe)
        except tarfile.TarError as exc:
            raise BuildFailed(
                f"{recipe.path}: source archive {source.url} cannot be unpacked: {exc}"
            ) from exc
    build_dir = src / source.extract_dir if source.extract_dir else src
    for source_file, destination in source.extras:
        target = build_dir / destination
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(recipe.directory / source_file, target)
    for patch in source.patches:
        patches = dest / "patches"
        patches.mkdir(exist_ok=True)
        shutil.copyfile(recipe.directory / patch, patches / Path(patch).name)
    return build_dir


def _extract_tar(tar: tarfile.TarFile, src: Path, recipe: LoadedRecipe) -> None:
    members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
    top = {PurePosixPath(m.name).parts[0] for m in members if PurePosixPath(m.name).parts}
    strip = 1 if len(top) == 1 else 0
    src.mkdir(parents=True, exist_ok=True)
    for member in members:
        parts = PurePosixPath(member.name).parts[strip:]
        if not parts:
            continue
        target = _safe_target(src, parts, recipe)
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = tar.extractfile(member)
        assert handle is not None
        with handle, target.open("wb") as out:
            shutil.copyfileobj(handle, out)
        target.chmod(0o755 if member.mode & 0o111 else 0o644)


def _unpack_members(names: list[str], write: object, src: Path, recipe: LoadedRecipe) -> None:
    files = [n for n in names if not n.endswith("/")]
    top = {PurePosixPath(n).parts[0] for n in files}
    strip = 1 if len(top) == 1 else 0
    for name in files:
        parts = PurePosixPath(name).parts[strip:]
        if not parts:
            continue
        target = _safe_target(src, parts, recipe)
        target.parent.mkdir(parents=True, exist_ok=True)
        write(name, target)  # type: ignore[operator]


def _safe_target(src: Path, parts: tuple[str, ...], recipe: LoadedRecipe) -> Path:
    if any(p in ("..", "") for p in parts) or PurePosixPath(*parts).is_absolute():
        raise BuildFailed(
            f"{recipe.path}: the source archive has an unsafe path {'/'.join(parts)!r}; refused"
        )
    return src.joinpath(*parts)
