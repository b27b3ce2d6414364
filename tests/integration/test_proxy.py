"""The CORS proxy against a real server and a real target on loopback (the only network a test may use)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import ssl
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
import trustme

from farm.errors import ProxyRefused, ProxyUpstreamError
from farm.proxy.fetch import ProxiedResponse, ProxyFetcher
from farm.proxy.policy import IPAddress, ProxyPolicy
from farm.settings import Settings
from index_server.errors import status_for
from tests.support.loopback import LoopbackServer, send
from tests.support.server import free_port, serve_thread


class Target(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/echo":
            body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Set-Cookie", "session=secret")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/big":
            send(self, 200, b"x" * 5000, "text/plain")
        elif self.path == "/big-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(10):
                self.wfile.write(b"3e8\r\n" + b"y" * 1000 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/short":  # promises 100 bytes, sends 10 and hangs up
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True
        elif self.path == "/status-999":
            self.wfile.write(b"HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nok")
            self.close_connection = True
        elif self.path == "/to-private":
            self.send_response(302)
            self.send_header("Location", "http://10.0.0.1/internal")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/to-self":
            self.send_response(302)
            self.send_header("Location", "/echo")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            send(self, 404, b"nothing here", "text/plain")


@pytest.fixture(scope="module")
def target() -> Iterator[LoopbackServer]:
    with LoopbackServer(Target) as server:
        yield server


def proxy_server(tmp_path: Path, **settings: object):  # type: ignore[no-untyped-def]
    return serve_thread(Settings(data_dir=tmp_path / "data", port=free_port(), **settings))


def proxied(url: str, target_url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(url + "proxy", params={"url": target_url}, timeout=30, **kwargs)  # type: ignore[arg-type]


def test_allowlisted_host_is_fetched_without_credentials(tmp_path: Path, target: LoopbackServer) -> None:
    host = target.url.removeprefix("http://").rstrip("/")
    with proxy_server(tmp_path, proxy_allow_hosts=[host], proxy_max_bytes=2000) as url:
        response = proxied(
            url,
            target.url + "echo",
            headers={"Cookie": "mine=1", "Authorization": "Bearer x", "Accept-Language": "fr"},
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        assert "set-cookie" not in response.headers
        seen = response.json()
        assert "cookie" not in seen and "authorization" not in seen
        assert seen["accept-language"] == "fr" and seen["host"] == host
        followed = proxied(url, target.url + "to-self")
        assert followed.status_code == 200 and followed.headers["x-final-url"].endswith("/echo")

        too_big = proxied(url, target.url + "big")
        assert too_big.status_code == 502 and "limit of 2000 bytes" in too_big.json()["message"]
        chunked = proxied(url, target.url + "big-chunked")
        assert chunked.status_code == 502 and "limit of 2000 bytes" in chunked.json()["message"]

        short = proxied(url, target.url + "short")  # was a 500: the read error escaped
        assert short.status_code == 502 and "the answer broke off" in short.json()["message"], short.text
        odd = proxied(url, target.url + "status-999")  # was no answer at all: uvicorn knows no status 999
        assert odd.status_code == 502 and "status 999" in odd.json()["message"], odd.text

        hop = proxied(url, target.url + "to-private")
        assert (
            hop.status_code == 403 and "10.0.0.1:80 is not on the proxy's allowlist" in hop.json()["message"]
        )
        other = proxied(url, "https://example.com/")
        assert other.status_code == 403 and "allowlist" in other.json()["message"]
        post = httpx.post(url + "proxy", params={"url": target.url + "echo"})
        assert post.status_code == 403 and "only GET and HEAD" in post.json()["message"]


@pytest.mark.parametrize(
    ("target_url", "message"),
    [
        ("http://127.0.0.1/", "127.0.0.1, a loopback address"),
        ("http://localhost/", "localhost resolves to"),
        ("http://10.0.0.1/", "a private address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://2130706433/", "unusual spelling"),
        ("http://example.com:22/", "port 22 is not allowed"),
        ("gopher://example.com/", "only http and https"),
    ],
)
def test_refusals_without_an_allowlist(tmp_path: Path, target_url: str, message: str) -> None:
    with proxy_server(tmp_path) as url:
        response = proxied(url, target_url)
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "ProxyRefused" and message in body["message"]


def test_rate_limit(tmp_path: Path) -> None:
    with proxy_server(tmp_path, proxy_rate_per_minute=10) as url:
        statuses = [proxied(url, "http://10.0.0.1/").status_code for _ in range(12)]
    assert statuses[:10] == [403] * 10
    assert statuses[10:] == [429, 429]


class NamedSite(BaseHTTPRequestHandler):
    """Answers with the Host it was asked for; keeps connections alive, so a pooled one could be reused."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    connections: list[int] = []  # client ports of the TLS connections that completed a handshake

    def log_message(self, format: str, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connections.append(self.client_address[1])

    def do_GET(self) -> None:
        send(self, 200, self.headers["Host"].encode(), "text/plain")


@pytest.fixture(scope="module")
def tls_site() -> Iterator[tuple[LoopbackServer, trustme.CA]]:
    """A TLS server on loopback whose certificate (from a test CA) is valid for a.test only."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("a.test").configure_cert(context)
    with LoopbackServer(NamedSite, tls=context) as server:
        yield server, ca


async def both_names_on_loopback(host: str, port: int) -> list[IPAddress]:
    if host in ("a.test", "b.test"):
        return [ipaddress.ip_address("127.0.0.1")]
    raise ProxyRefused(f"{host} does not resolve")


def test_a_tls_connection_made_for_one_name_is_not_reused_for_another(
    tls_site: tuple[LoopbackServer, trustme.CA],
) -> None:
    server, ca = tls_site
    trusted = ssl.create_default_context()
    ca.configure_trust(trusted)
    port = server.port
    # Names without a port: the site's port is one of the default ports here.
    policy = ProxyPolicy(allowed_ports=frozenset({port}), allow_hosts=frozenset({"a.test", "b.test"}))
    NamedSite.connections.clear()

    async def scenario() -> tuple[list[ProxiedResponse], ProxyUpstreamError, ProxyUpstreamError]:
        fetcher = ProxyFetcher(policy, both_names_on_loopback, ssl_context=trusted)
        try:
            first = await fetcher.fetch("GET", f"https://a.test:{port}/", {}, "test")
            with pytest.raises(ProxyUpstreamError) as right_after:  # a.test's connection is in the pool now
                await fetcher.fetch("GET", f"https://b.test:{port}/", {}, "test")
            again = await fetcher.fetch("GET", f"https://a.test:{port}/", {}, "test")
            with pytest.raises(ProxyUpstreamError) as once_more:
                await fetcher.fetch("GET", f"https://b.test:{port}/", {}, "test")
            return [first, again], right_after.value, once_more.value
        finally:
            await fetcher.aclose()

    answers, right_after, once_more = asyncio.run(scenario())
    assert [(a.status, a.body) for a in answers] == [(200, f"a.test:{port}".encode())] * 2
    assert len(NamedSite.connections) == 1  # a.test's pool kept its connection: reuse within a name stays
    for refused in (right_after, once_more):
        message = str(refused)
        assert message.startswith("b.test: ") and "certificate" in message and "'b.test'" in message, message
        assert status_for(refused) == 502
