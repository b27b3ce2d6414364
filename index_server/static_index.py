"""The read path: index pages and files, served from the rendered page tree and the blob store.

A plain ASGI app, because this is the hot path: no routing table, no dependency injection, one ``stat`` per page
request to notice a re-render (by this process or another one, such as ``wasmfarm mirror``). File names are built as
strings and opened with ``os`` (pathlib's joins cost several us a request), a cached page keeps its response
headers ready made, the request headers are read in one pass and content negotiation is memoised.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote_plus

from packaging.utils import canonicalize_name
from starlette.concurrency import run_in_threadpool

from farm.errors import FarmError, NotFound
from farm.index.negotiation import negotiate
from farm.store.blobs import BlobStore
from index_server.errors import error_body, error_headers, status_for

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Header = tuple[bytes, bytes]

CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"ETag, Content-Length, Content-Type, X-Decoded-Length"),
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
ACCEPT_RANGES = (b"accept-ranges", b"bytes")
PAGE_CACHING = (b"cache-control", b"max-age=60, must-revalidate")
PAGE_VARY = (b"vary", b"Accept, Accept-Encoding")
IMMUTABLE = (b"cache-control", b"public, max-age=31536000, immutable")
TEXT_TYPE = b"text/plain; charset=utf-8"


@dataclass(frozen=True)
class CachedPage:
    key: tuple[int, int, int]
    body: bytes
    etag: bytes
    encoding: bytes | None  # Content-Encoding of the file (a .br or .gz variant), None for the page itself
    # Response headers ready made, per Content-Type (a page is served under at most three): those of a 200, of a 304.
    _heads: dict[bytes, tuple[tuple[Header, ...], tuple[Header, ...]]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def heads(self, content_type: bytes) -> tuple[tuple[Header, ...], tuple[Header, ...]]:
        heads = self._heads.get(content_type)
        if heads is None:
            not_modified = (
                *CORS,
                INERT,
                (b"content-type", content_type),
                (b"etag", self.etag),
                PAGE_CACHING,
                PAGE_VARY,
                *([(b"content-encoding", self.encoding)] if self.encoding is not None else []),
            )
            heads = (*not_modified, (b"content-length", b"%d" % len(self.body))), not_modified
            self._heads[content_type] = heads
        return heads


class PageCache:
    """Rendered pages in memory, revalidated against the file on disk with one stat."""

    def __init__(self) -> None:
        self._pages: dict[str, CachedPage] = {}

    def get(self, path: str, encoding: bytes | None = None) -> CachedPage | None:
        """The page in the file ``path`` (whose Content-Encoding is ``encoding``); None when there is no such file."""
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            self._pages.pop(path, None)
            return None
        key = (st.st_mtime_ns, st.st_ino, st.st_size)
        cached = self._pages.get(path)
        if cached is not None and cached.key == key:
            return cached
        body = Path(path).read_bytes()
        etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
        page = CachedPage(key, body, etag, encoding)
        self._pages[path] = page
        return page


def _request_headers(scope: Scope) -> tuple[bytes | None, bytes, bytes | None]:
    """Accept, Accept-Encoding and If-None-Match, in one pass; the first of each counts, as in a lookup."""
    accept = if_none_match = None
    accept_encoding = b""
    for key, value in reversed(scope["headers"]):
        if key == b"accept":
            accept = value
        elif key == b"accept-encoding":
            accept_encoding = value
        elif key == b"if-none-match":
            if_none_match = value
    return accept, accept_encoding, if_none_match


def _conditions(scope: Scope) -> tuple[bytes | None, bytes | None, bytes | None]:
    """If-None-Match, Range and If-Range of a file request, in one pass (the first of each counts)."""
    if_none_match = byte_range = if_range = None
    for key, value in reversed(scope["headers"]):
        if key == b"if-none-match":
            if_none_match = value
        elif key == b"range":
            byte_range = value
        elif key == b"if-range":
            if_range = value
    return if_none_match, byte_range, if_range


UNSATISFIABLE: Literal["unsatisfiable"] = "unsatisfiable"


def parse_range(value: bytes, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """One byte range of RFC 9110 (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``) as (first, last) within ``size``;
    None when the header is to be ignored (malformed, or several ranges: the whole file is sent instead, as the RFC
    allows); ``UNSATISFIABLE`` when no byte of the file is in it (416)."""
    unit, _, spec = value.partition(b"=")
    if unit.strip().lower() != b"bytes" or b"," in spec:
        return None
    first, dash, last = spec.strip().partition(b"-")
    if not dash or not (first.isdigit() or first == b"") or not (last.isdigit() or last == b""):
        return None
    if len(first) > 18 or len(last) > 18:  # no file here is an exabyte; int() of thousands of digits refuses
        return None
    if first == b"":
        if last == b"":
            return None
        return (max(size - int(last), 0), size - 1) if size and int(last) else UNSATISFIABLE
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None
    return (start, end) if start < size else UNSATISFIABLE


def _etag_matches(if_none_match: bytes | None, etag: bytes) -> bool:
    if not if_none_match:
        return False
    return if_none_match == etag or any(
        tag.strip().removeprefix(b"W/") in (etag, b"*") for tag in if_none_match.split(b",")
    )


def _negotiate(accept: bytes | None, fmt: str | None) -> tuple[str, bytes]:
    """The page format and Content-Type negotiated for an Accept header and ``?format=``."""
    rep = negotiate(None if accept is None else accept.decode("latin-1"), fmt)
    return rep.format, rep.content_type.encode()


# Negotiation costs about 2 us, a third of a page's handling, and clients send the same few Accept headers over and
# over: memoised, bounded in number and in size (a client may send anything).
_negotiate_memo = functools.lru_cache(maxsize=256)(_negotiate)
MEMO_ACCEPT_BYTES = 512


def _representation(accept: bytes | None, fmt: str | None) -> tuple[str, bytes]:
    if accept is not None and len(accept) > MEMO_ACCEPT_BYTES:
        return _negotiate(accept, fmt)
    return _negotiate_memo(accept, fmt)


class StaticIndex:
    def __init__(
        self,
        www: Path,
        blobs: BlobStore,
        runtimes: list[str],
        runtime_wheel: Callable[[str, str], tuple[str, str] | None] | None = None,
    ) -> None:
        self.runtime_wheel = (
            runtime_wheel  # (version, file name) -> (blob path, sha256): a wheel no link names
        )
        self.www = www
        self.blobs = blobs
        self.runtimes = set(runtimes)
        self.cache = PageCache()
        self._www = os.fspath(www)
        self._blob_root = os.fspath(blobs.root)

    @staticmethod
    def handles(path: str) -> bool:
        return path == "/simple" or path.startswith(("/simple/", "/r/", "/files/", "/pyodide/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            if method == "OPTIONS":
                await _respond(send, 204, PREFLIGHT, b"")
            else:
                await _respond(send, 405, [*CORS, (b"allow", b"GET, HEAD, OPTIONS")], b"")
            return
        try:
            try:
                await self._dispatch(scope, send, method == "HEAD")
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
        if query:
            for part in query.split("&"):
                key, _, value = part.partition("=")
                if key == "format":
                    fmt = unquote_plus(value)
        accept, accept_encoding, if_none_match = _request_headers(scope)
        page_format, content_type = _representation(accept, fmt)
        folder = f"{self._www}/{prefix}{project}/" if project else f"{self._www}/{prefix}"
        await self._page(
            send,
            folder + "index." + page_format,
            content_type,
            accept_encoding,
            if_none_match,
            head,
            project,
            prefix,
        )

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
        self,
        send: Send,
        path: str,
        content_type: bytes,
        accept_encoding: bytes,
        if_none_match: bytes | None,
        head: bool,
        project: str,
        prefix: str,
    ) -> None:
        page = None
        if b"br" in accept_encoding:
            page = self.cache.get(path + ".br", b"br")
        elif b"gzip" in accept_encoding:
            page = self.cache.get(path + ".gz", b"gzip")
        if page is None:
            page = self.cache.get(path)
        if page is None:
            if project:
                where = (
                    "this index" if prefix == "simple/" else f"Pyodide {prefix.split('/')[1]} on this index"
                )
                raise NotFound(f"project {project!r} has no files for {where}")
            raise NotFound("the index has not been rendered yet; start `wasmfarm serve` once to render it")
        complete, not_modified = page.heads(content_type)
        if _etag_matches(if_none_match, page.etag):
            await _respond(send, 304, not_modified, b"")
            return
        await _respond(send, 200, complete, b"" if head else page.body, content_length_set=True)

    async def _file(self, scope: Scope, send: Send, path: str, head: bool) -> None:
        match = FILE_RE.match(path)
        if match is None:
            raise NotFound(f"no file at {path!r}; file URLs come from the index pages")
        shard, sha256, filename = match.groups()
        if sha256[:2] != shard:
            raise NotFound(f"no file at {path!r}; file URLs come from the index pages")
        # The blob store's layout (<root>/<sha[:2]>/<sha>, its metadata beside it), as a string: FILE_RE has checked
        # the digest, so BlobStore.path_for's check and pathlib's cost are not needed here.
        blob = f"{self._blob_root}/{shard}/{sha256}"
        if filename.endswith(".metadata"):
            blob, etag, content_type = blob + ".metadata", b'"%s-metadata"' % sha256.encode(), TEXT_TYPE
        else:
            etag, content_type = b'"%s"' % sha256.encode(), _file_type(filename)
        await self._stream(scope, send, blob, content_type, etag, head, (INERT,))

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
            _, accept_encoding, if_none_match = _request_headers(scope)
            await self._page(
                send, os.fspath(file), b"application/json", accept_encoding, if_none_match, head, "", ""
            )
            return
        if file.is_symlink():  # a locked wheel: content-addressed, immutable
            sha256 = file.readlink().name
            await self._stream(scope, send, os.fspath(file), _file_type(name), f'"{sha256}"'.encode(), head)
            return
        if self.runtime_wheel is not None and name.endswith(".whl") and "/" not in name and not file.exists():
            found = await run_in_threadpool(self.runtime_wheel, version, name)  # one indexed query
            if found is not None:
                blob, sha256 = found
                await self._stream(scope, send, blob, _file_type(name), f'"{sha256}"'.encode(), head)
                return
        accept_encoding = _request_headers(scope)[1]
        encoding = None
        identity = file
        for token, suffix in ((b"br", ".br"), (b"gzip", ".gz")):
            if token in accept_encoding and file.with_name(file.name + suffix).is_file():
                encoding, file = token, file.with_name(file.name + suffix)
                break
        try:
            st = file.stat()
            # A compressed variant also says the file's own size: the editor's progress bar counts decoded bytes.
            decoded = identity.stat().st_size if encoding else st.st_size
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"runtime {version} has no file {name!r}") from None
        etag = f'"{st.st_size:x}-{st.st_mtime_ns:x}{"-" + encoding.decode() if encoding else ""}"'.encode()
        extra = (
            (b"vary", b"Accept-Encoding"),
            *([(b"content-encoding", encoding), (b"x-decoded-length", b"%d" % decoded)] if encoding else []),
        )
        await self._stream(scope, send, os.fspath(file), _runtime_type(name), etag, head, extra)

    async def _stream(
        self,
        scope: Scope,
        send: Send,
        file: str,
        content_type: bytes,
        etag: bytes,
        head: bool,
        extra: tuple[Header, ...] = (),
    ) -> None:
        headers = [*CORS, (b"content-type", content_type), (b"etag", etag), IMMUTABLE, ACCEPT_RANGES, *extra]
        if_none_match, byte_range, if_range = _conditions(scope)
        if _etag_matches(if_none_match, etag):
            await _respond(send, 304, headers, b"")
            return
        try:
            fd = os.open(file, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"{Path(file).name!r} is not in this store") from None
        try:
            left = size = os.fstat(fd).st_size
            status = 200
            # A single range (uv's and pip's lazy wheels read the central directory so), unless If-Range names
            # another version of the file; several ranges get the whole file.
            wanted = parse_range(byte_range, size) if byte_range and if_range in (None, etag) else None
            if wanted == UNSATISFIABLE:
                headers.append((b"content-range", b"bytes */%d" % size))
                await _respond(send, 416, headers, b"")
                return
            if isinstance(wanted, tuple):
                first, last = wanted
                os.lseek(fd, first, os.SEEK_SET)
                left, status = last - first + 1, 206
                headers.append((b"content-range", b"bytes %d-%d/%d" % (first, last, size)))
            headers.append((b"content-length", b"%d" % left))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            if head:
                await send({"type": "http.response.body", "body": b""})
                return
            # Reads of exactly what is left: no spare buffer, no empty read at the end. A file cut short ends the
            # body short (and uvicorn, counting against Content-Length, drops the connection).
            while True:
                chunk = os.read(fd, min(left, CHUNK))
                left -= len(chunk)
                more = left > 0 and len(chunk) > 0
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
                if not more:
                    break
        finally:
            os.close(fd)


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
    send: Send, status: int, headers: Sequence[Header], body: bytes, content_length_set: bool = False
) -> None:
    if not content_length_set and status != 304:
        headers = [*headers, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str, query: str) -> None:
    target = location + (f"?{query}" if query else "")
    await _respond(send, 301, [*CORS, (b"location", target.encode())], b"")
