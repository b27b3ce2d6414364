"""A real HTTP server playing an upstream simple index (PEP 691 JSON and PEP 503 HTML) over files on disk."""

from __future__ import annotations

import hashlib
import html
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

from tests.support.loopback import LoopbackServer, send


@dataclass
class UpstreamState:
    root: Path
    wrong_hash: set[str] = field(default_factory=set)  # filenames whose advertised sha256 is wrong
    yanked: dict[str, str] = field(default_factory=dict)  # filename -> reason
    delay: float = 0.0  # seconds per file download
    serve_metadata: bool = True
    html_only: bool = False
    # Page entries with no file behind them (other platforms, older versions), by normalised project: a runtime
    # selects none of them, so an index of thousands of files per project is cheap to play. Yanks apply to them too.
    listed: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    # Answer a page again with the bytes made the first time, as PyPI's CDN does (for benchmarks: the upstream's own
    # cost stays out of what is measured); nothing changed afterwards shows, so tests leave it off.
    cache_pages: bool = False
    pages: dict[tuple[str, bool], tuple[bytes, str]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def files_of(self, project: str) -> list[Path]:
        found = []
        for path in sorted(self.root.iterdir()):
            if path.name.endswith(".whl"):
                name = parse_wheel_filename(path.name)[0]
            elif path.name.endswith(".tar.gz"):
                name = parse_sdist_filename(path.name)[0]
            else:
                continue
            if name == project:
                found.append(path)
        return found

    def file_requests(self) -> list[str]:
        with self.lock:
            return [p for m, p in self.requests if p.startswith("/files/") and not p.endswith(".metadata")]


def listed_entry(
    filename: str, *, requires_python: str | None = None, uploaded: datetime | None = None
) -> dict[str, object]:
    """A PEP 691 page entry for a file upstream lists but does not serve (``UpstreamState.listed``)."""
    entry: dict[str, object] = {
        "filename": filename,
        "url": f"../../files/{filename}",
        "hashes": {"sha256": hashlib.sha256(filename.encode()).hexdigest()},
        "yanked": False,
        "upload-time": (uploaded or datetime(2025, 1, 1, tzinfo=UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    if requires_python:
        entry["requires-python"] = requires_python
    return entry


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _metadata_of(path: Path) -> bytes:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        member = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(member)


class _Handler(BaseHTTPRequestHandler):
    state: UpstreamState

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with self.state.lock:
            self.state.requests.append(("GET", self.path))
        if self.path.startswith("/simple/"):
            self._page(self.path[len("/simple/") :].strip("/"))
        elif self.path.startswith("/files/"):
            self._file(self.path[len("/files/") :])
        else:
            self._send(404, b"not found", "text/plain")

    def _page(self, project: str) -> None:
        wants_json = "vnd.pypi.simple.v1+json" in self.headers.get("Accept", "") and not self.state.html_only
        key = (canonicalize_name(project), wants_json)
        page = self.state.pages.get(key) if self.state.cache_pages else None
        if page is None:
            page = self._render_page(project, wants_json)
            if self.state.cache_pages:
                self.state.pages[key] = page
        body, content_type = page
        if not body:
            self._send(404, b"no such project", "text/plain")
            return
        self._send(200, body, content_type)

    def _render_page(self, project: str, wants_json: bool) -> tuple[bytes, str]:
        files = self.state.files_of(canonicalize_name(project))
        listed = self.state.listed.get(canonicalize_name(project), [])
        if not files and not listed:
            return b"", ""
        entries = []
        for path in files:
            digest = "0" * 64 if path.name in self.state.wrong_hash else _sha256(path)
            entry = {
                "filename": path.name,
                "url": f"../../files/{path.name}",
                "hashes": {"sha256": digest},
                "yanked": self.state.yanked.get(path.name, False)
                if path.name in self.state.yanked
                else False,
            }
            if path.name in self.state.yanked:
                entry["yanked"] = self.state.yanked[path.name] or True
            # PEP 700 (API 1.1), as PyPI writes it: the file's modification time plays its upload time.
            moment = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            entry["upload-time"] = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if path.name.endswith(".whl"):
                for line in _metadata_of(path).decode().splitlines():
                    if line.startswith("Requires-Python: "):
                        entry["requires-python"] = line.split(": ", 1)[1]
            if self.state.serve_metadata and path.name.endswith(".whl"):
                entry["core-metadata"] = {"sha256": hashlib.sha256(_metadata_of(path)).hexdigest()}
            entries.append(entry)
        for extra in listed:
            entry = dict(extra)
            if entry["filename"] in self.state.yanked:
                entry["yanked"] = self.state.yanked[str(entry["filename"])] or True
            entries.append(entry)
        if wants_json:
            body = json.dumps({"meta": {"api-version": "1.1"}, "name": project, "files": entries}).encode()
            return body, "application/vnd.pypi.simple.v1+json"
        links = []
        for e in entries:
            attrs = f'href="{e["url"]}#sha256={e["hashes"]["sha256"]}"'
            if "requires-python" in e:
                attrs += f' data-requires-python="{html.escape(str(e["requires-python"]))}"'
            if "core-metadata" in e:
                attrs += f' data-core-metadata="sha256={e["core-metadata"]["sha256"]}"'
            if e["yanked"]:
                attrs += f' data-yanked="{e["yanked"] if isinstance(e["yanked"], str) else ""}"'
            links.append(f"<a {attrs}>{e['filename']}</a>")
        return ("<html><body>" + "\n".join(links) + "</body></html>").encode(), "text/html"

    def _file(self, name: str) -> None:
        metadata = name.endswith(".metadata")
        path = self.state.root / name.removesuffix(".metadata")
        if not path.is_file():
            self._send(404, b"no such file", "text/plain")
            return
        if metadata:
            self._send(200, _metadata_of(path), "text/plain")
            return
        data = path.read_bytes()
        if self.state.delay:
            # Send half, wait, send the rest: a kill during the wait leaves a partial download behind.
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            half = len(data) // 2
            self.wfile.write(data[:half])
            self.wfile.flush()
            time.sleep(self.state.delay)
            self.wfile.write(data[half:])
            return
        self._send(200, data, "application/octet-stream")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        send(self, status, body, content_type)


class UpstreamServer(LoopbackServer):
    def __init__(self, root: Path) -> None:
        self.state = UpstreamState(root)
        super().__init__(type("Handler", (_Handler,), {"state": self.state}), "/simple/")
