"""Fetching through the proxy: resolve once, vet every address, connect to the vetted one, follow redirects by hand.

The connection goes to the IP address that was checked (the URL is rewritten to it), with the original name in the
Host header and as the TLS server name, so a DNS answer that changes between check and connect (rebinding) cannot
redirect the request. Proxy environment variables are ignored.

httpx pools connections by the URL's host and port, here the IP address. One pool for all names would hand a TLS
connection made (and its certificate checked) for one name to a request for another name on the same address, whose
certificate would then never be checked; so every name gets a pool of its own (:class:`HostPools`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx

from farm.errors import ProxyRefused, ProxyUpstreamError
from farm.proxy.policy import IPAddress, ProxyPolicy, Target

audit = logging.getLogger("wasmfarm.proxy.audit")

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
FORWARDED_REQUEST_HEADERS = (
    "accept",
    "accept-language",
    "if-none-match",
    "if-modified-since",
    "range",
    "user-agent",
)
FORWARDED_RESPONSE_HEADERS = (
    "content-type",
    "etag",
    "last-modified",
    "cache-control",
    "content-language",
    "expires",
)


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ProxyRefused(f"{host} does not resolve ({exc.strerror})") from exc
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


@dataclass(frozen=True)
class ProxiedResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    final_url: str


class HostPools:
    """An httpx client, and so a connection pool, per host name; at most ``most`` kept (the least recently used idle
    ones are closed first)."""

    def __init__(self, make: Callable[[], httpx.AsyncClient], most: int = 64) -> None:
        self._make = make
        self._most = most
        self._clients: dict[str, httpx.AsyncClient] = {}  # least recently used first
        self._busy: Counter[str] = Counter()

    @contextlib.asynccontextmanager
    async def client(self, host: str) -> AsyncIterator[httpx.AsyncClient]:
        client = self._clients.pop(host, None)
        if client is None:
            client = self._make()
        self._clients[host] = client  # now the most recently used
        self._busy[host] += 1
        try:
            yield client
        finally:
            self._busy[host] -= 1
            if not self._busy[host]:
                del self._busy[host]
            await self._trim()

    async def _trim(self) -> None:
        idle = [host for host in self._clients if host not in self._busy]
        for host in idle[: max(0, len(self._clients) - self._most)]:
            await self._clients.pop(host).aclose()

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


class ProxyFetcher:
    def __init__(
        self,
        policy: ProxyPolicy,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``ssl_context`` verifies upstream certificates; default: the certifi CA bundle."""
        self.policy = policy
        self.resolver = resolver
        verify = ssl_context or httpx.create_ssl_context(trust_env=False)  # made once, shared by every pool
        timeout = httpx.Timeout(policy.total_timeout, connect=policy.connect_timeout)
        self.pools = HostPools(
            lambda: httpx.AsyncClient(
                verify=verify,
                trust_env=False,  # never route through proxy variables of the server's environment
                follow_redirects=False,
                timeout=timeout,
            )
        )

    async def aclose(self) -> None:
        await self.pools.aclose()

    async def fetch(self, method: str, url: str, headers: dict[str, str], client: str) -> ProxiedResponse:
        started = time.monotonic()
        address: IPAddress | None = None
        try:
            if method not in ("GET", "HEAD"):
                raise ProxyRefused(f"method {method} is not proxied; only GET and HEAD")
            target = self.policy.check_url(url)
            async with asyncio.timeout(self.policy.total_timeout):
                for _ in range(self.policy.max_redirects + 1):
                    address = self.policy.check_addresses(
                        target, await self.resolver(target.host, target.port)
                    )
                    response = await self._send(method, target, address, headers)
                    if response.status in (301, 302, 303, 307, 308) and "location" in response.location:
                        target = self.policy.check_redirect(target, response.location["location"])
                        method = "GET" if response.status == 303 else method
                        continue
                    audit.info(
                        "%s %s %s -> %s %d %dB %.0fms",
                        client,
                        method,
                        url,
                        address,
                        response.status,
                        len(response.body),
                        (time.monotonic() - started) * 1000,
                    )
                    return ProxiedResponse(
                        response.status,
                        response.headers,
                        response.body,
                        f"{target.scheme}://{target.host}:{target.port}{target.path}",
                    )
                raise ProxyRefused(f"{url}: more than {self.policy.max_redirects} redirects")
        except TimeoutError:
            audit.info("%s %s %s -> %s timeout", client, method, url, address)
            raise ProxyUpstreamError(
                f"{url}: no complete answer within {self.policy.total_timeout:.0f} s"
            ) from None
        except (ProxyRefused, ProxyUpstreamError) as exc:
            audit.info("%s %s %s -> %s refused: %s", client, method, url, address, exc)
            raise

    async def _send(
        self, method: str, target: Target, address: IPAddress, headers: dict[str, str]
    ) -> _Answer:
        host = f"[{address}]" if address.version == 6 else str(address)
        default_port = 443 if target.scheme == "https" else 80
        host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
        outgoing = {k: v for k, v in headers.items() if k.lower() in FORWARDED_REQUEST_HEADERS}
        outgoing["host"] = host_header
        outgoing["accept-encoding"] = "identity"  # the size cap counts what the page receives
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        async with self.pools.client(target.host) as client:
            request = client.build_request(
                method,
                f"{target.scheme}://{host}:{target.port}{target.path}",
                headers=outgoing,
                extensions=extensions,
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise ProxyUpstreamError(f"{target.host}: {type(exc).__name__}: {exc}") from exc
            try:
                body = await self._read(response, target)
            except httpx.HTTPError as exc:  # a body shorter than declared, broken chunking, a reset
                raise ProxyUpstreamError(
                    f"{target.host}: the answer broke off ({type(exc).__name__})"
                ) from exc
            finally:
                await response.aclose()
        if not 100 <= response.status_code <= 599:
            raise ProxyUpstreamError(
                f"{target.host}: answered HTTP status {response.status_code}, which is not one"
            )
        kept = [(k, v) for k, v in response.headers.items() if k.lower() in FORWARDED_RESPONSE_HEADERS]
        location = {"location": response.headers["location"]} if "location" in response.headers else {}
        return _Answer(response.status_code, kept, bytes(body), location)

    async def _read(self, response: httpx.Response, target: Target) -> bytearray:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.policy.max_bytes:
            raise ProxyUpstreamError(self._too_large(target))
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > self.policy.max_bytes:
                raise ProxyUpstreamError(self._too_large(target))
        return body

    def _too_large(self, target: Target) -> str:
        return f"{target.host}: the response exceeds the proxy's limit of {self.policy.max_bytes} bytes"


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    location: dict[str, str]


class RateLimiter:
    """A token bucket per client: ``rate`` requests per minute, bursts up to ``burst``."""

    def __init__(self, rate_per_minute: int, burst: int) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        tokens, last = self.buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self.buckets[client] = (tokens, now)
            return False
        self.buckets[client] = (tokens - 1, now)
        if len(self.buckets) > 10_000:  # forget idle clients
            self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < 600}
        return True
