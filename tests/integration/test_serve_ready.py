"""``wasmfarm serve`` says in one line when the editor is usable: it listens, its pages are rendered and the editor's
runtime is installed (at a first start it is fetched in the background while the index is already served)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.npm_registry import NpmRegistryServer, pyodide_tarball
from tests.support.server import free_port, stop, wait_healthy, wasmfarm_command
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel

V = "314.0.7"
INFO = {
    "abi_version": "2026_0",
    "platform": "emscripten_5_0_3",
    "python": "3.14.2",
    "arch": "wasm32",
    "version": V,
}


class Lines:
    """A process's stderr, line by line as it comes; ``wait_for`` returns the first line starting with a prefix."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def starting(self, prefix: str) -> list[str]:
        with self.changed:
            return [line for line in self.lines if line.startswith(prefix)]

    def wait_for(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = [line for line in self.lines if line.startswith(prefix)]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"no line starting {prefix!r} in {timeout} s; stderr:\n" + "\n".join(self.lines)
                    )
                self.changed.wait(left)


@contextmanager
def serving(data_dir: Path, env: dict[str, str]) -> Iterator[tuple[str, Lines]]:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WASMFARM_")}
    process = subprocess.Popen(
        [*wasmfarm_command(), "serve", "--port", str(port)],
        env={**clean, "WASMFARM_DATA_DIR": str(data_dir), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield f"http://127.0.0.1:{port}/", Lines(process)
    finally:
        stop(process)


def test_serve_says_when_the_editor_is_usable(tmp_path: Path) -> None:
    upstream_dir = tmp_path / "upstream"
    make_wheel(upstream_dir, "micropip", "0.11.1")
    micropip = {"name": "micropip", "version": "0.11.1", "depends": [], "file_name": "x.whl"}
    tarball = pyodide_tarball(tmp_path / "npm", V, INFO, {"micropip": micropip})
    release = threading.Event()
    with (
        UpstreamServer(upstream_dir) as upstream,
        NpmRegistryServer({V: tarball}, hold=release) as npm,
        serving(
            tmp_path / "data", {"WASMFARM_NPM_REGISTRY": npm.url, "WASMFARM_UPSTREAM_INDEX": upstream.url}
        ) as (
            url,
            lines,
        ),
    ):
        wait_healthy(url)  # the index is served while the runtime is still on its way
        assert httpx.get(f"{url}pyodide/{V}/pyodide.mjs").status_code == 404
        assert lines.starting("editor ") == []
        release.set()
        ready = lines.wait_for("editor ", timeout=60)
        editor = httpx.get(f"{url}editor")  # at that moment, not later: the line comes after the facts
        runtime = httpx.get(f"{url}pyodide/{V}/pyodide.mjs")
        assert ready == f"editor ready at {url}editor (runtime {V})"
        assert editor.status_code == 200 and "text/html" in editor.headers["content-type"]
        assert runtime.status_code == 200 and runtime.headers["content-type"] == "text/javascript"
        time.sleep(0.5)
        assert lines.starting("editor ") == [ready]  # one line
        assert lines.starting("wasmfarm: data directory") == [
            f"wasmfarm: data directory {tmp_path / 'data'} (from WASMFARM_DATA_DIR)"
        ]
    with serving(tmp_path / "data", {"WASMFARM_AUTO_INSTALL_RUNTIMES": "false"}) as (url, lines):  # a restart
        again = lines.wait_for("editor ", timeout=30)
        assert again == f"editor ready at {url}editor (runtime {V})"
        assert httpx.get(f"{url}pyodide/{V}/pyodide.mjs").status_code == 200


def test_serve_says_when_the_editor_cannot_be_used(tmp_path: Path) -> None:
    with (
        NpmRegistryServer({}) as npm,  # has no pyodide at all
        serving(tmp_path / "data", {"WASMFARM_NPM_REGISTRY": npm.url}) as (url, lines),
    ):
        said = lines.wait_for("editor ", timeout=60)
        assert said.startswith(f"editor not usable: runtime {V} could not be installed")
        assert f"retry: wasmfarm runtime add {V}" in said
        wait_healthy(url)  # the index is served regardless
    with serving(tmp_path / "off", {"WASMFARM_AUTO_INSTALL_RUNTIMES": "false"}) as (url, lines):
        said = lines.wait_for("editor ", timeout=30)
        assert said == f"editor not usable: runtime {V} is not installed (auto_install_runtimes is off): " + (
            f"`wasmfarm runtime add {V}`"
        )
