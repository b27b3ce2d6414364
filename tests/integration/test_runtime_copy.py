"""`wasmfarm runtime fetch` against a server that lies: every file is checked before it gets its name."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from farm.errors import InvalidDistribution, NotFound, PermissionDenied, UpstreamIntegrityError
from farm.runtime.local_copy import fetch_runtime
from tests.support.loopback import LoopbackServer, send

INFO = {"abi_version": "2026_0", "python": "3.14.2"}
WASM = b"\0asm fake runtime"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Site(LoopbackServer):
    """Serves ``routes`` (path -> bytes) and 404 elsewhere."""

    def __init__(self, routes: dict[str, bytes], authorization: str | None = None) -> None:
        site_routes = routes

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if authorization and self.headers.get("Authorization") != authorization:
                    send(self, 401, b"token please", "text/plain")
                    return
                body = site_routes.get(self.path)
                send(self, 200 if body is not None else 404, body or b"", "application/octet-stream")

        super().__init__(Handler)


def routes(
    files: list[dict[str, object]], bodies: dict[str, bytes], lock: dict[str, object]
) -> dict[str, bytes]:
    base = "/pyodide/314.0.7/"
    out = {base + "wasmfarm-runtime.json": json.dumps({"info": INFO, "files": files}).encode()}
    out |= {base + name: body for name, body in bodies.items()}
    out[base + "pyodide-lock.json"] = json.dumps(lock).encode()
    return out


GOOD_LOCK = {"info": INFO, "packages": {}}


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "copy"


def test_a_file_that_does_not_match_its_hash_is_refused_and_not_written(target: Path) -> None:
    files = [{"name": "pyodide.asm.wasm", "size": len(WASM), "sha256": sha(b"something else entirely")}]
    with (
        Site(routes(files, {"pyodide.asm.wasm": WASM}, GOOD_LOCK)) as site,
        pytest.raises(UpstreamIntegrityError, match=r"pyodide\.asm\.wasm: got 17 bytes"),
    ):
        fetch_runtime(site.url, "314.0.7", target)
    assert list(target.iterdir()) == []  # not even a temporary file


def test_a_good_copy_then_an_unchanged_one(target: Path) -> None:
    files = [{"name": "pyodide.asm.wasm", "size": len(WASM), "sha256": sha(WASM)}]
    with Site(routes(files, {"pyodide.asm.wasm": WASM}, GOOD_LOCK)) as site:
        first = fetch_runtime(site.url, "314.0.7", target)
        second = fetch_runtime(site.url, "314.0.7", target)
    assert first.downloaded == ("pyodide.asm.wasm", "pyodide-lock.json")
    assert second.kept == ("pyodide.asm.wasm",)
    assert (target / "pyodide.asm.wasm").read_bytes() == WASM


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "../escape.js", "size": 1, "sha256": "0" * 64}, "not a relative path inside the runtime"),
        ({"name": "/etc/passwd", "size": 1, "sha256": "0" * 64}, "not a relative path inside the runtime"),
        ({"name": ".hidden", "size": 1, "sha256": "0" * 64}, "not a relative path inside the runtime"),
        (
            {"name": "pyodide-lock.json", "size": 1, "sha256": "0" * 64},
            "not a relative path inside the runtime",
        ),
        ({"name": "a.js", "size": -1, "sha256": "0" * 64}, "is not a byte count"),
        ({"name": "a.js", "size": True, "sha256": "0" * 64}, "is not a byte count"),
        ({"name": "a.js", "size": 1, "sha256": "XYZ"}, "is not 64 hex digits"),
        ("a.js", "not a relative path"),
    ],
)
def test_a_malformed_file_list_is_refused_whole(target: Path, entry: object, message: str) -> None:
    files = [{"name": "ok.js", "size": 1, "sha256": sha(b"x")}, entry]
    with (
        Site(routes(files, {"ok.js": b"x"}, GOOD_LOCK)) as site,
        pytest.raises(InvalidDistribution, match=message),
    ):  # type: ignore[list-item]
        fetch_runtime(site.url, "314.0.7", target)
    assert not target.exists() or list(target.iterdir()) == []


def test_a_lock_for_another_abi_is_refused(target: Path) -> None:
    lock = {"info": {**INFO, "abi_version": "2025_0"}, "packages": {}}
    with (
        Site(routes([], {}, lock)) as site,
        pytest.raises(InvalidDistribution, match="the lock says abi_version '2025_0'"),
    ):
        fetch_runtime(site.url, "314.0.7", target)
    assert not (target / "pyodide-lock.json").exists()


def test_wheels_are_checked_against_the_lock(target: Path) -> None:
    wheel = b"PK fake wheel"
    lock = {
        "info": INFO,
        "packages": {
            "greet": {"file_name": "greet-1.0-py3-none-any.whl", "sha256": sha(b"other"), "depends": []},
        },
    }
    with (
        Site(routes([], {"greet-1.0-py3-none-any.whl": wheel}, lock)) as site,
        pytest.raises(NotFound, match="has no package 'nothere'"),
    ):
        fetch_runtime(site.url, "314.0.7", target, packages=("nothere",))
        with pytest.raises(UpstreamIntegrityError, match=r"greet-1\.0-py3-none-any\.whl"):
            fetch_runtime(site.url, "314.0.7", target, packages=("Greet",))
    assert not (target / "greet-1.0-py3-none-any.whl").exists()


def test_a_server_without_the_runtime_says_so(target: Path) -> None:
    with Site({}) as site, pytest.raises(NotFound, match=r"does not serve runtime 314\.0\.7"):
        fetch_runtime(site.url, "314.0.7", target)


def test_a_read_token_is_sent_as_http_basic(target: Path) -> None:
    files = [{"name": "pyodide.asm.wasm", "size": len(WASM), "sha256": sha(WASM)}]
    basic = "Basic " + base64.b64encode(b"__token__:wf_secret").decode()
    with Site(routes(files, {"pyodide.asm.wasm": WASM}, GOOD_LOCK), authorization=basic) as site:
        with pytest.raises(PermissionDenied, match="wants a read token"):
            fetch_runtime(site.url, "314.0.7", target)
        copy = fetch_runtime(site.url, "314.0.7", target, token="wf_secret")
    assert copy.downloaded == ("pyodide.asm.wasm", "pyodide-lock.json")
