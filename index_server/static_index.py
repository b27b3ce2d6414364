"""The read path: index pages and files, served from the rendered page tree and the blob store.

A plain ASGI app, because this is the hot path: no routing table, no dependency injection, one ``stat`` per page
request to notice a re-render (by this process or another one, such as ``wasmfarm mirror``).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from packaging.utils import canonicalize_name

from farm.errors import FarmError, NotFound
from farm.index.negotiation import negotiate
from farm.store.blobs import BlobStore
from index_server.errors import error_body, error_headers, status_for

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"ETag, Content-Length, Content-Type"),
    (b"x-content-type-options", b"nosniff"),
]
# Index pages and stored files are data, never a document to run: no script, no plugin, no framing, an opaque origin
# if a browser renders one anyway. (Runtime files under /pyodide/ get none: a worker script carries its own CSP.)
INERT = (b"content-security-policy", b"default-src 'none'; sandbox; frame-ancestors 'none'; base-uri 'none'")
PREFLIGHT = [
    *CORS,
    (
        b"access-control-allow-methods",
        b"GET, HEAD, POST, OPTIONS",
    ),  # POST: /r/<runtime>/lock, which reads only
    (
        b"access-control-allow-headers",
        b"Accept, Accept-Encoding, Content-Type, If-None-Match, Authorization, Range",
    ),
    (b"access-control-max-age", b"86400"),
]
# What a path a client chose can make the file system say: a name too long, a directory, a file in the way.
CLIENT_PATH_ERRORS = frozenset({errno.ENAMETOOLONG, errno.EISDIR, errno.ENOTDIR, errno.ENOENT, errno.ELOOP})
PROJECT_SEGMENT = re.compile(r"[A-Za-z0-9._-]{1,128}")
FILE_RE = re.compile(r"^/files/([0-9a-f]{2})/([0-9a-f]{64})/([^/]+)$")
CHUNK = 256 * 1024


@dataclass(frozen=True)
class CachedPage:
    key: tuple[int, int, int]
    body: bytes
    etag: bytes


class PageCache:
    """Rendered pages in memory, revalidated against the file on disk with one stat."""

    def __init__(self) -> None:
        self._pages: dict[Path, CachedPage] = {}

    def get(self, path: Path) -> CachedPage | None:
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            self._pages.pop(path, None)
            return None
        key = (st.st_mtime_ns, st.st_ino, st.st_size)
        cached = self._pages.get(path)
        if cached is not None and cached.key == key:
            return cached
        body = path.read_bytes()
        etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
        page = CachedPage(key, body, etag)
        self._pages[path] = page
        return page


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _etag_matches(if_none_match: str | None, etag: bytes) -> bool:
    if not if_none_match:
        return False
    wanted = etag.decode()
    return any(tag.strip().removeprefix("W/") in (wanted, "*") for tag in if_none_match.split(","))


class StaticIndex:
    def __init__(self, www: Path, blobs: BlobStore, runtimes: list[str]) -> None:
        self.www = www
        self.blobs = blobs
        self.runtimes = set(runtimes)
        self.cache = PageCache()

    @staticmethod
    def handles(path: str) -> bool:
        return path == "/simple" or path.startswith(("/simple/", "/r/", "/files/", "/pyodide/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "OPTIONS":
            await _respond(send, 204, PREFLIGHT, b"")
            return
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, [*CORS, (b"allow", b"GET, HEAD, OPTIONS")], b"")
            return
        try:
            try:
                await self._dispatch(scope, send, head=method == "HEAD")
            except OSError as exc:
                if exc.errno not in CLIENT_PATH_ERRORS:
                    raise
                raise NotFound(f"no file at {scope['path'][:120]!r}") from None
        except FarmError as exc:
            status = status_for(exc)
            await _respond(send, status, [*CORS, *error_headers(exc)], error_body(exc, status))

    async def _dispatch(self, scope: Scope, send: Send, head: bool) -> None:
        path: str = scope["path"]
        if path.startswith("/files/"):
            await self._file(scope, send, path, head)
            return
        if path.startswith("/pyodide/"):
            await self._runtime(scope, send, path, head)
            return
        if path.startswith("/r/") and path.endswith("/lock"):
            raise NotFound(f'{path}: POST requirements here (JSON: {{"requirements": [...]}}) to get a lock')
        prefix, rest = self._split_view(path)
        query = scope.get("query_string", b"").decode("latin-1")
        if rest == "" and not path.endswith("/"):
            await _redirect(send, path + "/", query)
            return
        project = rest.strip("/")
        if "/" in project:
            raise NotFound(f"no page at {path!r}; project pages are at /{prefix}<project>/")
        if project:
            if not PROJECT_SEGMENT.fullmatch(project):
                raise NotFound(
                    f"{project[:80]!r} is not a project name (ASCII letters, digits, '.', '_' and '-'), so no "
                    f"page exists for it; the list of projects is at /{prefix}"
                )
            canonical = canonicalize_name(project)
            if canonical != project or not path.endswith("/"):
                await _redirect(send, f"/{prefix}{canonical}/", query)
                return
        fmt = None
        for part in query.split("&"):
            key, _, value = part.partition("=")
            if key == "format":
                fmt = unquote_plus(value)
        rep = negotiate(_header(scope, b"accept"), fmt)
        page_path = self.www / prefix / project / f"index.{rep.format}" if project else None
        if page_path is None:
            page_path = self.www / prefix / f"index.{rep.format}"
        await self._page(scope, send, page_path, rep.content_type, head, project, prefix)

    def _split_view(self, path: str) -> tuple[str, str]:
        if path.startswith("/simple"):
            return "simple/", path[len("/simple") :]
        parts = path.split("/", 4)  # "", "r", runtime, "simple", rest
        if len(parts) >= 4 and parts[3] == "simple":
            runtime = parts[2]
            if runtime not in self.runtimes:
                served = ", ".join(sorted(self.runtimes))
                raise NotFound(
                    f"runtime {runtime!r} is not served here; runtimes: {served} (or /simple/ for all)"
                )
            return f"r/{runtime}/simple/", "/" + parts[4] if len(parts) == 5 else ""
        raise NotFound(f"no page at {path!r}; the index is at /simple/ and /r/<runtime>/simple/")

    async def _page(
        self, scope: Scope, send: Send, path: Path, content_type: str, head: bool, project: str, prefix: str
    ) -> None:
        accept_encoding = _header(scope, b"accept-encoding") or ""
        variant, encoding = path, None
        if "br" in accept_encoding:
            variant, encoding = path.with_name(path.name + ".br"), b"br"
        elif "gzip" in accept_encoding:
            variant, encoding = path.with_name(path.name + ".gz"), b"gzip"
        page = self.cache.get(variant)
        if page is None and encoding is not None:
            variant, encoding = path, None
            page = self.cache.get(variant)
        if page is None:
            if project:
                where = (
                    "this index" if prefix == "simple/" else f"Pyodide {prefix.split('/')[1]} on this index"
                )
                raise NotFound(f"project {project!r} has no files for {where}")
            raise NotFound("the index has not been rendered yet; start `wasmfarm serve` once to render it")
        headers = [
            *CORS,
            INERT,
            (b"content-type", content_type.encode()),
            (b"etag", page.etag),
            (b"cache-control", b"max-age=60, must-revalidate"),
            (b"vary", b"Accept, Accept-Encoding"),
        ]
        if encoding is not None:
            headers.append((b"content-encoding", encoding))
        if _etag_matches(_header(scope, b"if-none-match"), page.etag):
            await _respond(send, 304, headers, b"")
            return
        headers.append((b"content-length", str(len(page.body)).encode()))
        await _respond(send, 200, headers, b"" if head else page.body, content_length_set=True)

    async def _file(self, scope: Scope, send: Send, path: str, head: bool) -> None:
        match = FILE_RE.match(path)
        if match is None or match.group(2)[:2] != match.group(1):
            raise NotFound(f"no file at {path!r}; file URLs come from the index pages")
        sha256, filename = match.group(2), match.group(3)
        is_metadata = filename.endswith(".metadata")
        blob = self.blobs.metadata_path_for(sha256) if is_metadata else self.blobs.path_for(sha256)
        etag = f'"{sha256}{"-metadata" if is_metadata else ""}"'.encode()
        content_type = b"text/plain; charset=utf-8" if is_metadata else _file_type(filename)
        await self._stream(scope, send, blob, content_type, etag, head, [INERT])

    async def _runtime(self, scope: Scope, send: Send, path: str, head: bool) -> None:
        """``/pyodide/<version>/<file>``: the runtime's files, its generated lock and its locked wheels."""
        parts = path.split("/")[2:]
        if (
            len(parts) < 2
            or not parts[0]
            or any(p in ("", ".", "..") or p.startswith(".") for p in parts[1:])
        ):
            raise NotFound(f"no file at {path!r}; runtime files are at /pyodide/<version>/<file>")
        version, name = parts[0], "/".join(parts[1:])
        base = self.www / "pyodide" / version
        if not (base / "pyodide.asm.wasm").is_file():
            raise NotFound(
                f"runtime {version!r} is not installed here; `wasmfarm runtime add {version}` adds it"
            )
        file = base / name
        if name == "pyodide-lock.json":
            await self._page(scope, send, file, "application/json", head, "", "")
            return
        if file.is_symlink():  # a locked wheel: content-addressed, immutable
            sha256 = file.readlink().name
            await self._stream(scope, send, file, _file_type(name), f'"{sha256}"'.encode(), head)
            return
        accept_encoding = _header(scope, b"accept-encoding") or ""
        encoding = None
        for token, suffix in ((b"br", ".br"), (b"gzip", ".gz")):
            if token.decode() in accept_encoding and file.with_name(file.name + suffix).is_file():
                encoding, file = token, file.with_name(file.name + suffix)
                break
        try:
            st = file.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"runtime {version} has no file {name!r}") from None
        etag = f'"{st.st_size:x}-{st.st_mtime_ns:x}{"-" + encoding.decode() if encoding else ""}"'.encode()
        extra = [(b"vary", b"Accept-Encoding")] + ([(b"content-encoding", encoding)] if encoding else [])
        await self._stream(scope, send, file, _runtime_type(name), etag, head, extra)

    async def _stream(
        self,
        scope: Scope,
        send: Send,
        file: Path,
        content_type: bytes,
        etag: bytes,
        head: bool,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        headers = [
            *CORS,
            (b"content-type", content_type),
            (b"etag", etag),
            (b"cache-control", b"public, max-age=31536000, immutable"),
            *(extra or []),
        ]
        if _etag_matches(_header(scope, b"if-none-match"), etag):
            await _respond(send, 304, headers, b"")
            return
        try:
            handle = file.open("rb")
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"{file.name!r} is not in this store") from None
        with handle:
            size = os.fstat(handle.fileno()).st_size
            headers.append((b"content-length", str(size).encode()))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            if head:
                await send({"type": "http.response.body", "body": b""})
                return
            while True:
                chunk = handle.read(CHUNK)
                more = len(chunk) == CHUNK
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
                if not more:
                    break


_RUNTIME_TYPES = {
    ".wasm": b"application/wasm",  # anything else makes loadPyodide hang in browsers
    ".mjs": b"text/javascript",
    ".js": b"text/javascript",
    ".json": b"application/json",
    ".map": b"application/json",
    ".zip": b"application/zip",
    ".whl": b"application/zip",
    ".html": b"text/html; charset=utf-8",
    ".ts": b"text/plain; charset=utf-8",
    ".md": b"text/plain; charset=utf-8",
}


def _runtime_type(name: str) -> bytes:
    return _RUNTIME_TYPES.get(Path(name).suffix, b"application/octet-stream")


def _file_type(filename: str) -> bytes:
    if filename.endswith((".whl", ".zip")):
        return b"application/zip"
    if filename.endswith(".tar.gz"):
        return b"application/gzip"
    return b"application/octet-stream"


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, content_length_set: bool = False
) -> None:
    if not content_length_set and status != 304:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str, query: str) -> None:
    target = location + (f"?{query}" if query else "")
    await _respond(send, 301, [*CORS, (b"location", target.encode())], b"")
