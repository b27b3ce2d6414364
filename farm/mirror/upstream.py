"""An upstream simple index, read through either PEP 691 JSON or PEP 503 HTML into one model.

Like micropip's ``ProjectInfo``: two constructors, one shape, so nothing downstream cares which format came in.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin

import httpx
from packaging.utils import NormalizedName, canonicalize_name

from farm.errors import UpstreamUnavailable
from farm.store.blobs import BlobWriter

log = logging.getLogger(__name__)

ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"


@dataclass(frozen=True)
class UpstreamFile:
    filename: str
    url: str
    sha256: str | None
    requires_python: str | None
    yanked: bool
    yanked_reason: str | None
    metadata_sha256: str | None  # PEP 714 hash of <url>.metadata
    has_metadata: bool
    upload_time: datetime | None = None  # PEP 700, JSON pages only


@dataclass(frozen=True)
class UpstreamProject:
    name: NormalizedName
    url: str
    files: tuple[UpstreamFile, ...]


def _yank(value: object) -> tuple[bool, str | None]:
    if isinstance(value, str):
        return True, value or None
    return bool(value), None


def _metadata(value: object) -> tuple[bool, str | None]:
    if isinstance(value, dict):
        return True, value.get("sha256")
    return bool(value), None


def _upload_time(value: object) -> datetime | None:
    """PEP 700's ``upload-time`` (ISO 8601, UTC: ``2026-03-19T10:02:03.123456Z``); None when absent or unreadable
    (the file is still mirrored; its time is then the mirror's)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_PLAIN = re.compile(r"[!-~]*")  # printable ASCII without spaces (urlsplit strips spaces and controls) ...
_SPECIAL = frozenset("?#;[]\\")  # ... and none of these: a URL with one is joined by urljoin itself


def file_url(page_url: str, href: str, joined: dict[str, str]) -> str:
    """``urljoin(page_url, href)``, cheaply for the thousands of files one page lists: a plain absolute URL is
    itself, and a plain relative one is its directory joined once per page (``joined`` keeps those) plus its name.
    Anything else (a query, a fragment, a host, dot segments at the end, odd characters) goes through urljoin
    (``tests/unit/test_upstream_parse.py`` holds the two to the same answers)."""
    if _PLAIN.fullmatch(href) and _SPECIAL.isdisjoint(href):
        if href.startswith(("https://", "http://")):
            host = href.partition("://")[2]
            if host and not host.startswith("/"):
                return href
            return urljoin(page_url, href)
        head, slash, tail = href.rpartition("/")
        if slash and tail not in ("", ".", "..") and not href.startswith("//"):
            if head not in joined:
                joined[head] = urljoin(page_url, head + "/")
            return joined[head] + tail
    return urljoin(page_url, href)


def parse_json_page(name: str, url: str, body: bytes) -> UpstreamProject:
    try:
        page = json.loads(body)
        files = []
        joined: dict[str, str] = {}
        for entry in page["files"]:
            yanked, reason = _yank(entry.get("yanked", False))
            has_meta, meta_hash = _metadata(
                entry.get("core-metadata", entry.get("dist-info-metadata", False))
            )
            files.append(
                UpstreamFile(
                    filename=entry["filename"],
                    url=file_url(url, entry["url"], joined),
                    sha256=entry.get("hashes", {}).get("sha256"),
                    requires_python=entry.get("requires-python"),
                    yanked=yanked,
                    yanked_reason=reason,
                    metadata_sha256=meta_hash,
                    has_metadata=has_meta,
                    upload_time=_upload_time(entry.get("upload-time")),
                )
            )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UpstreamUnavailable(f"{url}: malformed PEP 691 JSON page ({exc!r})") from exc
    return UpstreamProject(canonicalize_name(name), url, tuple(files))


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._current, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.anchors.append((self._current, "".join(self._text).strip()))
            self._current = None


def _hash_value(value: str | None) -> tuple[bool, str | None]:
    if value is None:
        return False, None
    algorithm, _, digest = value.partition("=")
    return True, digest if algorithm == "sha256" and digest else None


def parse_html_page(name: str, url: str, body: bytes) -> UpstreamProject:
    parser = _AnchorParser()
    parser.feed(body.decode("utf-8", "replace"))
    files = []
    for attrs, text in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        absolute, fragment = urldefrag(urljoin(url, href))
        filename = absolute.rsplit("/", 1)[-1] or text
        algorithm, _, digest = fragment.partition("=")
        meta = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        has_meta, meta_hash = _hash_value(meta)
        if meta == "true":
            has_meta, meta_hash = True, None
        yanked = "data-yanked" in attrs
        files.append(
            UpstreamFile(
                filename=filename,
                url=absolute,
                sha256=digest if algorithm == "sha256" and digest else None,
                requires_python=attrs.get("data-requires-python"),
                yanked=yanked,
                yanked_reason=(attrs.get("data-yanked") or None) if yanked else None,
                metadata_sha256=meta_hash,
                has_metadata=has_meta,
            )
        )
    return UpstreamProject(canonicalize_name(name), url, tuple(files))


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context (the CA bundle, or SSL_CERT_FILE/SSL_CERT_DIR) for every client: loading it takes ~40 ms, and
    the server opens a client per compatibility check (``farm.compat.tasks``), so no check reads a stale page."""
    return httpx.create_ssl_context(trust_env=True)


class UpstreamIndex:
    """HTTP access to one upstream index, with retries for transient failures."""

    label = "the upstream index"

    def __init__(self, base_url: str, timeout: float = 60.0, retries: int = 3) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.retries = retries
        # trust_env: an enterprise reaches its upstream through the proxy its environment names.
        self.client = httpx.Client(timeout=timeout, follow_redirects=True, trust_env=True, verify=_tls())
        self._pages: dict[str, UpstreamProject | None] = {}

    def close(self) -> None:
        self.client.close()

    def project(self, name: str) -> UpstreamProject | None:
        """The project's page, or None when upstream does not have the project (404)."""
        normalized = canonicalize_name(name)
        if normalized not in self._pages:
            self._pages[normalized] = self._fetch_project(normalized)
        return self._pages[normalized]

    def _fetch_project(self, name: NormalizedName) -> UpstreamProject | None:
        url = f"{self.base_url}{name}/"
        response = self._get(url, headers={"Accept": ACCEPT})
        if response is None:
            return None
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if content_type in ("application/vnd.pypi.simple.v1+json", "application/json"):
            return parse_json_page(name, str(response.url), response.content)
        if content_type in ("application/vnd.pypi.simple.v1+html", "text/html", ""):
            return parse_html_page(name, str(response.url), response.content)
        raise UpstreamUnavailable(f"{url}: unexpected Content-Type {content_type!r} for a simple index page")

    def _get(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response | None:
        for attempt in range(1, self.retries + 1):
            try:
                response = self.client.get(url, headers=headers)
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 404:
                    return None
                if response.status_code < 400:
                    return response
                if response.status_code < 500 and response.status_code != 429:
                    raise UpstreamUnavailable(
                        f"{url}: HTTP {response.status_code}; check the upstream index URL"
                    )
                failure = f"HTTP {response.status_code}"
            if attempt < self.retries:
                time.sleep(0.5 * 2**attempt)
        raise UpstreamUnavailable(f"{url}: {failure} after {self.retries} attempts; retry later")

    def document(self, url: str, max_bytes: int) -> bytes | None:
        """A document published with the index (a ``pyodide-lock.json``): None on 404; one larger than
        ``max_bytes`` is refused before it is all read, and an https URL is not followed to plain http."""
        body = bytearray()

        def receive(response: httpx.Response) -> None:
            if url.startswith("https:") and response.url.scheme != "https":
                raise UpstreamUnavailable(
                    f"{url}: redirected to {response.url}, which is not https; not read"
                )
            body.clear()
            for chunk in response.iter_bytes(1 << 20):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise UpstreamUnavailable(f"{url}: larger than {max_bytes} bytes; refusing to read it")

        found = self._stream(url, receive, "check the URL", missing_ok=True)
        return bytes(body) if found else None

    def metadata(self, file: UpstreamFile) -> bytes | None:
        if not file.has_metadata:
            return None
        response = self._get(file.url + ".metadata")
        return None if response is None else response.content

    def download(self, file: UpstreamFile, writer: BlobWriter, listed_by: str = "the index") -> None:
        """Stream a file into a writer, starting over on transient failures (hash checks are the ingestor's);
        ``listed_by``: what named the file, for messages."""

        def receive(response: httpx.Response) -> None:
            writer.reset()
            for chunk in response.iter_bytes(1 << 20):
                writer.write(chunk)

        self._stream(
            file.url, receive, f"{listed_by} lists a file the server does not serve", missing_ok=False
        )

    def _stream(
        self, url: str, receive: Callable[[httpx.Response], None], refused: str, *, missing_ok: bool
    ) -> bool:
        """GET ``url`` and give a successful response to ``receive``, starting over on transient failures; False
        on a 404 when ``missing_ok``; ``refused``: what another 4xx means, for the message."""
        failure = ""
        for attempt in range(1, self.retries + 1):
            try:
                with self.client.stream("GET", url) as response:
                    if response.status_code == 404 and missing_ok:
                        return False
                    if 400 <= response.status_code < 500 and response.status_code != 429:
                        raise UpstreamUnavailable(f"{url}: HTTP {response.status_code}; {refused}")
                    if response.status_code < 400:
                        receive(response)
                        return True
                    failure = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            if attempt < self.retries:
                time.sleep(0.5 * 2**attempt)
        raise UpstreamUnavailable(f"{url}: {failure} after {self.retries} attempts; retry later")


def iter_requirement_lines(text: str) -> Iterator[tuple[int, str]]:
    """Requirement lines of a requirements file, without comments, blanks and continuation backslashes."""
    pending = ""
    start = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not pending:
            start = lineno
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            yield start, line
