"""Verification: the built wheel installed with micropip into a fresh Pyodide of its target under Node.

Its dependencies come from the farm's own index, served for the run by a loopback server over the page tree and
the blob store (the same bytes the server sends; a CLI build needs no running server). ``test.imports`` must import
and every ``test_*`` function of the recipe's ``test_<name>.py`` must pass.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from farm.errors import BuildError
from farm.store.blobs import BlobStore

SCRIPT = "verify_wheel.mjs"


@dataclass(frozen=True)
class Verification:
    ok: bool
    report: dict[str, Any]

    def failures(self) -> list[str]:
        if self.report.get("error"):
            return [str(self.report["error"])]
        items = [*self.report.get("imports", {}).items(), *self.report.get("tests", {}).items()]
        return [f"{name}: {result.strip().splitlines()[-1]}" for name, result in items if result != "ok"]


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


def verify(
    wheel: Path,
    *,
    runtime: str,
    www: Path,
    blobs: BlobStore,
    runner_assets: Path,
    imports: list[str],
    test_source: str | None,
    timeout: float = 300.0,
) -> Verification:
    node = shutil.which("node")
    if node is None:
        raise BuildError(
            "node is not installed: verification runs the wheel in Pyodide under Node (apt-get install nodejs)"
        )
    runtime_dir = www / "pyodide" / runtime
    if not (runtime_dir / "pyodide.mjs").is_file():
        raise BuildError(f"runtime {runtime} is not installed; `wasmfarm runtime add {runtime}` adds it")
    with serve_farm(www, blobs) as base, tempfile.TemporaryDirectory(prefix="wasmfarm-verify-") as tmp:
        config = {
            "pyodideDir": str(runtime_dir),
            "packageCacheDir": tmp,
            "packageBaseUrl": f"{base}pyodide/{runtime}/",
            "indexUrls": [f"{base}r/{runtime}/simple/"],
            "wheel": str(wheel),
            "imports": imports,
            "testSource": test_source,
        }
        (Path(tmp) / "config.json").write_text(json.dumps(config))
        try:
            result = subprocess.run(
                [node, str(runner_assets / "node" / SCRIPT), str(Path(tmp) / "config.json")],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Verification(False, {"error": f"verification did not finish within {timeout:.0f} s"})
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = "\n".join(result.stderr.splitlines()[-15:])
        return Verification(False, {"error": f"the verifier crashed (exit {result.returncode}):\n{tail}"})
    report = json.loads(lines[-1])
    report["log"] = result.stderr.splitlines()[-40:]
    return Verification(bool(report.get("ok")), report)
