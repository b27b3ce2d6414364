"""nginx for tests and benchmarks: a private master process (its own pid file, logs and temporary paths) serving the
``server`` blocks it is given, such as ``wasmfarm nginx-config``'s production layout."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

MAIN = """
worker_processes auto;
pid {pid};
error_log {log} warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    {servers}
}}
"""


def need_nginx() -> str:
    path = shutil.which("nginx")
    if path is None:
        raise RuntimeError("nginx is missing: ci/test-assets.sh installs it (Debian's nginx-light)")
    return path


@contextmanager
def nginx(base: Path, servers: str, ready_url: str | None = None) -> Iterator[None]:
    """nginx with ``servers`` until the block exits; its files go under ``base``, which (with the files it serves)
    must be readable by nginx's worker user. With ``ready_url``, waits until that URL answers at all."""
    conf = base / "nginx.conf"
    (base / "tmp").mkdir(exist_ok=True)
    conf.write_text(
        MAIN.format(pid=base / "nginx.pid", log=base / "nginx.err", tmp=base / "tmp", servers=servers)
    )
    exe = need_nginx()
    subprocess.run([exe, "-c", str(conf), "-t", "-q"], check=True)
    process = subprocess.Popen([exe, "-c", str(conf), "-g", "daemon off;"])
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"nginx exited with {process.returncode}: {(base / 'nginx.err').read_text()}"
                )
            if ready_url is None:
                time.sleep(0.5)
                break
            try:
                httpx.get(ready_url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
