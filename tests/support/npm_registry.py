"""A real HTTP server playing the npm registry for the pyodide package, over the cached real tarball."""

from __future__ import annotations

import base64
import hashlib
import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.support.loopback import LoopbackServer, send


class NpmRegistryServer(LoopbackServer):
    def __init__(self, tarballs: dict[str, Path], corrupt: bool = False) -> None:
        self.tarballs = tarballs  # version -> .tgz
        self.corrupt = corrupt  # serve altered bytes under the true integrity
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
                    data = server.tarballs[version].read_bytes()
                    if server.corrupt:
                        data = data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:]
                    self._send(200, data, "application/octet-stream")
                else:
                    self._send(404, b'{"error": "Not found"}', "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                send(self, status, body, content_type)

        super().__init__(Handler)
