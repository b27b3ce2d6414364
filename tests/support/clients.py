"""Talking to a wasmfarm server as its clients do (twine's upload form, Basic and Bearer tokens)."""

from __future__ import annotations

from pathlib import Path

import httpx


def upload(
    url: str, path: Path, token: str | None, *, filename: str | None = None, **fields: str
) -> httpx.Response:
    """``twine upload``'s request: the legacy upload form with the file in ``content`` (sent as ``filename``, which
    may be a name no file system would hold)."""
    data = {":action": "file_upload", "protocol_version": "1", **fields}
    auth = ("__token__", token) if token else None
    with path.open("rb") as handle:
        return httpx.post(
            url + "legacy/",
            data=data,
            files={"content": (filename or path.name, handle)},
            auth=auth,
            timeout=60,
        )
