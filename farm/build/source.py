"""A recipe's source, made ready to build: downloaded once (verified, kept in the blob store), unpacked safely,
patched and completed with its extras. Patches run inside the sandbox (``patch`` of the image)."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

import httpx

from farm.errors import BuildError, UpstreamUnavailable
from farm.recipe.loader import LoadedRecipe
from farm.store.blobs import BlobStore
from farm.store.ingest import verify_sha256


def fetch(recipe: LoadedRecipe, blobs: BlobStore, timeout: float = 120.0) -> Path | None:
    """The source archive in the blob store (downloaded when missing), or None for an in-tree ``path`` source."""
    source = recipe.recipe.source
    if source.url is None or source.sha256 is None:
        return None
    if blobs.has(source.sha256):
        return blobs.path_for(source.sha256)
    try:
        with (
            blobs.writer() as writer,
            httpx.stream("GET", source.url, follow_redirects=True, timeout=timeout) as response,
        ):
            response.raise_for_status()
            for chunk in response.iter_bytes():
                writer.write(chunk)
            writer.finish()
            verify_sha256(writer.sha256, source.sha256, f"{recipe.path}: source/url {source.url}")
            writer.commit()
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"{recipe.path}: cannot download source/url {source.url}: {exc}") from exc
    return blobs.path_for(source.sha256)


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
    elif source.url and source.url.endswith(".whl"):
        raise BuildError(f"{recipe.path}: source/url is a wheel; there is nothing to build")
    else:
        try:
            with tarfile.open(archive) as tar:
                _extract_tar(tar, src, recipe)
        except tarfile.TarError as exc:
            raise BuildError(f"{recipe.path}: source archive {source.url} cannot be unpacked: {exc}") from exc
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
        raise BuildError(f"{recipe.path}: the source archive has an unsafe path {'/'.join(parts)!r}; refused")
    return src.joinpath(*parts)
