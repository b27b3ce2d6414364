"""Rendering of simple-index pages: PEP 503 HTML and PEP 691 JSON, API version 1.1 (PEP 700).

Pure functions over frozen value types; no database, no HTTP. Rendered once per change, served as bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from urllib.parse import quote

API_VERSION = "1.1"
# A normalised project name needs neither quoting nor escaping (the root listing of 100,000 names: 0.25 s otherwise).
_PLAIN_NAME = re.compile(r"[a-z0-9-]+")


@dataclass(frozen=True)
class IndexFile:
    filename: str
    path: str  # URL path below the server root, e.g. "files/ab/<sha256>/<filename>"
    sha256: str
    size: int
    upload_time: datetime
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    metadata_sha256: str | None = None  # PEP 714: hash of <file>.metadata, None when not served


@dataclass(frozen=True)
class ProjectListing:
    name: str  # normalised
    files: tuple[IndexFile, ...]
    versions: tuple[str, ...]  # PEP 700: every version of the project, sorted


def file_path(sha256: str, filename: str) -> str:
    """URL path of a stored file; percent-quoted, so no catalog content can change what an href points at."""
    return f"files/{quote(sha256[:2], safe='')}/{quote(sha256, safe='')}/{quote(filename, safe='+!')}"


def _upload_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _yank_value(file: IndexFile) -> bool | str:
    if not file.yanked:
        return False
    return file.yanked_reason or True


def render_project_html(listing: ProjectListing, root: str) -> bytes:
    """PEP 503 page. ``root`` is the relative path from the page to the server root (e.g. ``../../``)."""
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "<head>",
        f'<meta name="pypi:repository-version" content="{API_VERSION}">',
        f"<title>Links for {escape(listing.name)}</title>",
        "</head>",
        "<body>",
        f"<h1>Links for {escape(listing.name)}</h1>",
    ]
    for file in listing.files:
        attrs = [f'href="{escape(root + file.path)}#sha256={file.sha256}"']
        if file.requires_python:
            attrs.append(f'data-requires-python="{escape(file.requires_python)}"')
        if file.metadata_sha256:
            attrs.append(f'data-core-metadata="sha256={file.metadata_sha256}"')
            attrs.append(f'data-dist-info-metadata="sha256={file.metadata_sha256}"')
        if file.yanked:
            attrs.append(f'data-yanked="{escape(file.yanked_reason or "")}"')
        lines.append(f"<a {' '.join(attrs)}>{escape(file.filename)}</a><br>")
    lines += ["</body>", "</html>", ""]
    return "\n".join(lines).encode()


def render_project_json(listing: ProjectListing, base_url: str) -> bytes:
    """PEP 691 page with absolute file URLs (micropip refuses relative ones)."""
    files = []
    for file in listing.files:
        entry: dict[str, object] = {
            "filename": file.filename,
            "url": base_url + file.path,
            "hashes": {"sha256": file.sha256},
            "requires-python": file.requires_python,
            "size": file.size,
            "upload-time": _upload_time(file.upload_time),
            "yanked": _yank_value(file),
        }
        if file.metadata_sha256:
            entry["core-metadata"] = {"sha256": file.metadata_sha256}
            entry["dist-info-metadata"] = {"sha256": file.metadata_sha256}
        else:
            entry["core-metadata"] = False
        files.append(entry)
    page = {
        "meta": {"api-version": API_VERSION},
        "name": listing.name,
        "versions": list(listing.versions),
        "files": files,
    }
    return json.dumps(page, separators=(",", ":")).encode()


def render_root_html(names: Sequence[str]) -> bytes:
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "<head>",
        f'<meta name="pypi:repository-version" content="{API_VERSION}">',
        "<title>Simple index</title>",
        "</head>",
        "<body>",
    ]
    lines += [_root_link(name) for name in names]
    lines += ["</body>", "</html>", ""]
    return "\n".join(lines).encode()


def _root_link(name: str) -> str:
    if _PLAIN_NAME.fullmatch(name):
        return f'<a href="{name}/">{name}</a><br>'
    return f'<a href="{escape(quote(name, safe=""))}/">{escape(name)}</a><br>'


def render_root_json(names: Sequence[str]) -> bytes:
    page = {"meta": {"api-version": API_VERSION}, "projects": [{"name": name} for name in names]}
    return json.dumps(page, separators=(",", ":")).encode()
