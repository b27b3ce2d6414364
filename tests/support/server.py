"""Running wasmfarm for tests: a real ``wasmfarm serve`` process, or uvicorn in a thread of the test process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from farm.settings import Settings
from index_server.app import create_app
from index_server.http_limits import server_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wasmfarm_command() -> list[str]:
    exe = shutil.which("wasmfarm", path=str(Path(sys.executable).parent))
    assert exe, "the wasmfarm command is not installed in this environment"
    return [exe]


def wait_healthy(url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"wasmfarm serve exited with {process.returncode}")
        try:
            if httpx.get(url + "health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not become healthy in {timeout} s")


@contextmanager
def serve_process(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """``wasmfarm serve`` as a separate process; yields its URL."""
    with served_process(data_dir, env) as (url, _process):
        yield url


@contextmanager
def served_process(
    data_dir: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``wasmfarm serve`` as a separate process; yields its URL and the process (for its pid, its memory)."""
    port = free_port()
    # No test reaches the public npm registry: runtimes come from a local registry when a test wants them.
    full_env = {
        **os.environ,
        "WASMFARM_DATA_DIR": str(data_dir),
        "WASMFARM_AUTO_INSTALL_RUNTIMES": "false",
        **(env or {}),
    }
    log = (data_dir.parent / f"serve-{port}.log").open("wb")
    process = subprocess.Popen(
        [*wasmfarm_command(), "serve", "--port", str(port)],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_healthy(url, process)
        yield url, process
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen[Any]) -> None:
    """Terminate a server process; kill it if it has not exited after 10 s."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serve_thread(settings: Settings) -> Iterator[str]:
    """The app under uvicorn in a thread (real HTTP, same process: fast for integration tests), configured as
    ``wasmfarm serve`` configures it."""
    server = uvicorn.Server(server_config(create_app(settings), settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = settings.resolved_public_url
    try:
        wait_healthy(url)
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
