"""A real HTTP server playing the npm registry for the pyodide package, over the cached real tarball or a made-up
one (``pyodide_tarball``: a release wasmfarm has never heard of, or a hostile one)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.support.loopback import LoopbackServer, send


class NpmRegistryServer(LoopbackServer):
    def __init__(
        self, tarballs: dict[str, Path], corrupt: bool = False, hold: threading.Event | None = None
    ) -> None:
        self.tarballs = tarballs  # version -> .tgz
        self.corrupt = corrupt  # serve altered bytes under the true integrity
        self.hold = hold  # when given, tarballs are sent only once it is set
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                parts = self.path.strip("/").split("/")
                if len(parts) == 2 and parts[0] == "pyodide" and parts[1] in server.tarballs:
                    data = server.tarballs[parts[1]].read_bytes()
                    integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
                    body = json.dumps(
                        {
                            "name": "pyodide",
                            "version": parts[1],
                            "dist": {
                                "tarball": f"{server.url}tarballs/pyodide-{parts[1]}.tgz",
                                "integrity": integrity,
                            },
                        }
                    ).encode()
                    self._send(200, body, "application/json")
                elif len(parts) == 2 and parts[0] == "tarballs":
                    version = parts[1].removeprefix("pyodide-").removesuffix(".tgz")
                    if server.hold is not None:
                        server.hold.wait(60)
                    data = server.tarballs[version].read_bytes()
                    if server.corrupt:
                        data = data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:]
                    self._send(200, data, "application/octet-stream")
                else:
                    self._send(404, b'{"error": "Not found"}', "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                send(self, status, body, content_type)

        super().__init__(Handler)


def pyodide_tarball(
    directory: Path, version: str, info: Any, packages: dict[str, Any] | None = None, lock: Any = None
) -> Path:
    """An npm ``pyodide`` package with the files wasmfarm requires (placeholders: it is never booted) and a
    ``pyodide-lock.json`` of ``info`` and ``packages`` (or exactly ``lock`` when given)."""
    files = {
        "package/package.json": json.dumps({"name": "pyodide", "version": version}).encode(),
        "package/pyodide.mjs": b"export const loadPyodide = () => {};\n",
        "package/pyodide.asm.mjs": b"export default {};\n",
        "package/pyodide.asm.wasm": b"\0asm\1\0\0\0",
        "package/python_stdlib.zip": b"PK\5\6" + bytes(18),
        "package/pyodide-lock.json": json.dumps(
            lock if lock is not None else {"info": info, "packages": packages or {}}
        ).encode(),
    }
    path = directory / f"pyodide-{version}.tgz"
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return path
