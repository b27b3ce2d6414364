"""Talking to a wasmfarm server as its clients do (twine's upload form, Basic and Bearer tokens)."""

from __future__ import annotations

import time
from collections.abc import Callable
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


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``check`` until it holds; the seconds that took. The shared pages (root listings, runtime locks) show an
    upload within ``shared_pages_quiet`` .. ``shared_pages_max_delay`` plus one render, not before it returns."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - started
