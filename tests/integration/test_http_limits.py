"""Limits on request heads (size, field count, time) against a real ``wasmfarm serve`` over raw sockets."""

from __future__ import annotations

import select
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from farm.settings import Settings
from tests.support.server import free_port, serve_thread, served_process

HEADER_TIMEOUT = 2.0
MAX_HEAD = 64 * 1024  # the default of max_header_bytes
MiB = 1024 * 1024
SLOW_HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 100


@dataclass(frozen=True)
class Served:
    url: str
    port: int
    pid: int


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("limits") / "data"
    env = {"WASMFARM_HEADER_TIMEOUT": str(HEADER_TIMEOUT), "WASMFARM_MAX_HEADER_COUNT": "50"}
    with served_process(data_dir, env=env) as (url, process):
        yield Served(url, int(url.rstrip("/").rsplit(":", 1)[1]), process.pid)


def peak_rss_kib(pid: int) -> int:
    """The most memory the process has held at once (VmHWM): a head read whole shows here even once freed."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def exchange(
    port: int, head: bytes, filler: int = 0, tail: bytes = b"", deadline: float = 10.0
) -> tuple[bytes, int]:
    """Send ``head``, ``filler`` bytes of a header value and ``tail``, reading all the while; stop at the end of
    the answer (the server closes or half-closes). Returns what was read and how many bytes were sent."""
    sock = connect(port)
    sock.setblocking(False)
    pending = memoryview(head + b"a" * filler + tail)
    answer = bytearray()
    sent = 0
    stop = time.monotonic() + deadline
    try:
        while time.monotonic() < stop:
            readable, writable, _ = select.select([sock], [sock] if pending else [], [], 0.5)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not data:
                    break
                answer += data
            if writable and pending:
                try:
                    n = sock.send(pending[:65536])
                except (BrokenPipeError, ConnectionResetError):
                    pending = pending[:0]
                    continue
                sent += n
                pending = pending[n:]
        else:
            raise AssertionError(f"no end of the answer within {deadline} s; read {bytes(answer[:200])!r}")
    finally:
        sock.close()
    return bytes(answer), sent


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length, read from a blocking socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    fields = dict(line.lower().split(b": ", 1) for line in head.split(b"\r\n")[1:])
    length = int(fields[b"content-length"])
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def request_head(size: int, path: bytes = b"/health") -> bytes:
    """A GET whose request line and headers are exactly ``size`` bytes; the server closes after answering."""
    start = b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Pad: "
    end = b"\r\n\r\n"
    return start + b"p" * (size - len(start) - len(end)) + end


def with_fields(count: int) -> bytes:
    """A GET with ``count`` header fields."""
    extra = b"".join(b"X-%d: v\r\n" % i for i in range(count - 2))
    return b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra + b"\r\n"


@pytest.mark.parametrize("size_mib", [1, 8, 64])
def test_huge_heads_are_refused_without_being_read(served: Served, size_mib: int) -> None:
    before = peak_rss_kib(served.pid)
    started = time.monotonic()
    answer, sent = exchange(
        served.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ", size_mib * MiB, b"\r\n\r\n"
    )
    elapsed = time.monotonic() - started
    after = peak_rss_kib(served.pid)
    print(
        f"{size_mib} MiB: answered in {elapsed:.3f} s after {sent} bytes sent; peak RSS {before} -> {after} KiB"
    )
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert answer.endswith(
        b"431 Request Header Fields Too Large: the request line and headers exceed 65536 bytes "
        b"(setting max_header_bytes)\n"
    )
    assert b"connection: close" in answer
    assert elapsed < 3
    assert after - before < 4 * 1024, f"peak RSS grew from {before} to {after} KiB"


def test_a_head_at_the_limit_is_served_and_one_byte_more_is_not(served: Served) -> None:
    answer, _ = exchange(served.port, request_head(MAX_HEAD))
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    answer, _ = exchange(served.port, request_head(MAX_HEAD + 1))
    assert answer.startswith(b"HTTP/1.1 431 ") and b"max_header_bytes" in answer


def test_too_many_header_fields(served: Served) -> None:
    answer, _ = exchange(served.port, with_fields(50))  # the configured maximum
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    answer, _ = exchange(served.port, with_fields(51))
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert answer.endswith(b"more than 50 header fields (setting max_header_count)\n")


def trickle(
    socks: list[socket.socket], data: bytes, interval: float, limit: float
) -> list[tuple[float, bytes]]:
    """Send ``data`` one byte every ``interval`` seconds on every socket until the server ends its answer
    there; return per socket when the answer ended (seconds since the start) and what it was."""
    for sock in socks:
        sock.setblocking(False)
    started = time.monotonic()
    ended: dict[socket.socket, tuple[float, bytes]] = {}
    answers = {sock: bytearray() for sock in socks}
    position = 0
    next_send = started
    while len(ended) < len(socks) and time.monotonic() - started < limit:
        if time.monotonic() >= next_send and position < len(data):
            for sock in socks:
                if sock not in ended:
                    try:
                        sock.send(data[position : position + 1])
                    except OSError:
                        ended[sock] = (time.monotonic() - started, bytes(answers[sock]))
            position += 1
            next_send += interval
        waiting = [sock for sock in socks if sock not in ended]
        readable, _, _ = select.select(waiting, [], [], max(0.0, min(0.05, next_send - time.monotonic())))
        for sock in readable:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if chunk:
                answers[sock] += chunk
            else:
                ended[sock] = (time.monotonic() - started, bytes(answers[sock]))
    return [ended.get(sock, (float("inf"), bytes(answers[sock]))) for sock in socks]


def assert_cut_for_slowness(when: float, answer: bytes) -> None:
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert answer.endswith(b"did not arrive within 2 s (setting header_timeout)\n")
    assert HEADER_TIMEOUT - 0.1 < when < HEADER_TIMEOUT + 1.0, when


def test_slow_heads_are_cut_while_others_are_served(served: Served) -> None:
    attackers = [connect(served.port) for _ in range(5)]
    ends: list[tuple[float, bytes]] = []
    attack = threading.Thread(target=lambda: ends.extend(trickle(attackers, SLOW_HEAD, 0.5, 10)))
    started = time.monotonic()
    try:
        attack.start()
        time.sleep(1.0)  # the attack is under way: five heads, a byte each every 0.5 s
        asked_at = time.monotonic() - started
        normal = httpx.get(served.url + "health", timeout=5)
        answered_at = time.monotonic() - started
        attack.join(15)
    finally:
        for sock in attackers:
            sock.close()
    print(
        f"normal request answered in {(answered_at - asked_at) * 1000:.1f} ms during the attack; "
        f"attackers cut at {[round(when, 2) for when, _ in ends]} s"
    )
    assert normal.status_code == 200 and answered_at - asked_at < 0.5
    assert len(ends) == 5
    for when, answer in ends:
        assert_cut_for_slowness(when, answer)
        assert when > answered_at  # the normal request was served while the attack was on


def test_a_slow_second_request_on_a_kept_alive_connection_is_cut(served: Served) -> None:
    sock = connect(served.port)
    try:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = read_response(sock)
        assert first.startswith(b"HTTP/1.1 200 ")
        # Idle for a while, within the keep-alive timeout: the second request's clock starts at its first byte.
        time.sleep(1.0)
        [(when, answer)] = trickle([sock], SLOW_HEAD, 0.5, 10)
    finally:
        sock.close()
    assert_cut_for_slowness(when, answer)


def test_a_slow_body_is_not_cut(served: Served) -> None:
    """The head is complete at once; the body then takes longer than header_timeout: no limit of this module."""
    body = b"\n" * 8
    sock = connect(served.port)
    try:
        sock.sendall(
            b"POST /r/314.0.7/lock HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        started = time.monotonic()
        for byte in body:
            time.sleep(0.4)
            sock.sendall(bytes([byte]))
        answer = read_response(sock)
        took = time.monotonic() - started
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # and the connection lives on
        again = read_response(sock)
    finally:
        sock.close()
    assert took > HEADER_TIMEOUT + 1
    assert answer.startswith(b"HTTP/1.1 4") and b"no requirements given" in answer, answer[:300]
    assert again.startswith(b"HTTP/1.1 200 ")


def test_pipelined_requests_before_an_oversized_head_are_answered_first(served: Served) -> None:
    first = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    answer, _ = exchange(served.port, first + b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ", 2 * MiB)
    ok, _, refusal = answer.partition(b"HTTP/1.1 431 ")
    assert ok.startswith(b"HTTP/1.1 200 ") and b'"status"' in ok, answer[:300]
    assert refusal.endswith(b"(setting max_header_bytes)\n")


def test_oversized_trailers_cut_the_connection(served: Served) -> None:
    """Trailers of a chunked body are collected like headers: they get the same cap."""
    head = (
        b"POST /r/314.0.7/lock HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n1\r\n\n\r\n0\r\n"
    )
    answer, _ = exchange(served.port, head + b"X-Trailer: t\r\n\r\n")
    assert b"no requirements given" in answer, answer[:300]  # small trailers pass
    before = peak_rss_kib(served.pid)
    answer, _ = exchange(served.port, head + b"X-Huge: ", 16 * MiB, b"\r\n\r\n")
    after = peak_rss_kib(served.pid)
    assert answer == b""  # the request cannot be completed: no answer, the connection is closed
    assert after - before < 4 * 1024, f"peak RSS grew from {before} to {after} KiB"


def test_without_httptools_h11_caps_the_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As if httptools were missing: importing the protocol built on it fails.
    monkeypatch.setitem(sys.modules, "index_server.head_limited_protocol", None)
    settings = Settings(data_dir=tmp_path / "data", port=free_port())
    with serve_thread(settings):
        answer, _ = exchange(
            settings.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ", 4 * MiB, b"\r\n\r\n"
        )
        served = httpx.get(settings.resolved_public_url + "health", timeout=5)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert served.status_code == 200


def test_forwarded_headers_are_believed_only_from_the_configured_proxies(tmp_path: Path) -> None:
    from starlette.types import Receive, Scope, Send
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from index_server.http_limits import server_config

    async def app(scope: Scope, receive: Receive, send: Send) -> None: ...

    def layers(config: object) -> list[type]:
        found, layer = [], getattr(config, "loaded_app", None)
        while layer is not None and layer is not app:
            found.append(type(layer))
            layer = getattr(layer, "app", None)
        return found

    trusting = server_config(app, Settings(data_dir=tmp_path))
    trusting.load()
    assert ProxyHeadersMiddleware in layers(trusting)
    assert trusting.forwarded_allow_ips == "127.0.0.1"
    closed = server_config(app, Settings(data_dir=tmp_path, forwarded_allow_ips=""))
    closed.load()
    assert ProxyHeadersMiddleware not in layers(closed)
