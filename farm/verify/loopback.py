"""The farm's index on loopback for one verification: the page tree and the blob store, the bytes the server sends.

It runs inside the verification's sandbox (in its own network namespace, where only this loopback exists), so a CLI
build needs no running server and the code under test reaches nothing else.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from farm.store.blobs import BlobStore


def _handler(www: Path, blobs: BlobStore) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(www), **kwargs)

        def log_message(self, format: str, *args: object) -> None:
            return

        def translate_path(self, path: str) -> str:
            parts = path.split("?", maxsplit=1)[0].split("/")
            if len(parts) == 5 and parts[1] == "files" and len(parts[3]) == 64:  # /files/<aa>/<sha256>/<name>
                if parts[4].endswith(".metadata"):  # PEP 658/714: the wheel's METADATA, stored beside it
                    return str(blobs.metadata_path_for(parts[3]))
                return str(blobs.path_for(parts[3]))
            return super().translate_path(path)

    return Handler


@contextlib.contextmanager
def serve_farm(www: Path, blobs: BlobStore) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(www, blobs))
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="verify-index")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
