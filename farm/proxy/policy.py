"""What the CORS proxy may fetch. Pure: URL and address checks, no I/O.

Every resolved address must be global (IPv4 inside IPv6 unwrapped); only http/https on the allowed ports; no
userinfo, no odd spellings of IP addresses. An allowlist, when configured, is stronger than any blocklist: only its
entries are fetched, and an entry is trusted even where it resolves to a private address (that is how an operator
exposes an internal service on purpose). An entry ``host`` allows the host on the allowed ports; ``host:port``, on
that port only.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from farm.errors import ProxyRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower-case, IDNA-encoded, no brackets
    port: int
    path: str  # path and query, as sent to the target

    @property
    def key(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ProxyPolicy:
    allowed_ports: frozenset[int] = frozenset({80, 443})
    allow_hosts: frozenset[str] = field(default_factory=frozenset)  # "host" or "host:port"
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    connect_timeout: float = 5.0
    total_timeout: float = 30.0

    def allowlisted(self, target: Target) -> bool:
        """An entry ``host:port`` allows that port only; an entry ``host``, the allowed ports."""
        return target.key in self.allow_hosts or (
            target.host in self.allow_hosts and target.port in self.allowed_ports
        )

    def check_url(self, url: str) -> Target:
        """Parse and vet a URL before anything is resolved or connected."""
        try:
            parts: SplitResult = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ProxyRefused(f"{url!r} is not a valid URL ({exc})") from exc
        if parts.scheme not in ("http", "https"):
            raise ProxyRefused(
                f"{url!r}: only http and https URLs are proxied, not {parts.scheme or 'none'!r}"
            )
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise ProxyRefused(f"{url!r}: URLs with user information are refused")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise ProxyRefused(f"{url!r}: no host")
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError as exc:
            raise ProxyRefused(f"{url!r}: the host name is not valid ({exc})") from exc
        literal = _ip_literal(host)
        if literal is None and all(_NUMERIC_LABEL.match(label) for label in host.split(".")):
            raise ProxyRefused(f"{url!r}: {host!r} looks like an unusual spelling of an IP address; refused")
        port = port or (443 if parts.scheme == "https" else 80)
        target = Target(
            parts.scheme, host, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        )
        allowed = ", ".join(str(p) for p in sorted(self.allowed_ports))
        if self.allow_hosts and not self.allowlisted(target):
            if host in self.allow_hosts:
                raise ProxyRefused(
                    f"{host}:{port} is not on the proxy's allowlist: the entry {host!r} allows ports {allowed} "
                    f"(setting proxy_allowed_ports); add {target.key!r} to proxy_allow_hosts for this port"
                )
            raise ProxyRefused(f"{host}:{port} is not on the proxy's allowlist (setting proxy_allow_hosts)")
        if not self.allowlisted(target) and port not in self.allowed_ports:
            raise ProxyRefused(f"{url!r}: port {port} is not allowed (allowed: {allowed})")
        if literal is not None and not self.allowlisted(target):
            check_address(literal, host)
        return target

    def check_addresses(self, target: Target, addresses: list[IPAddress]) -> IPAddress:
        """Every address a name resolves to must be global; the first is the one to connect to."""
        if not addresses:
            raise ProxyRefused(f"{target.host} does not resolve")
        if not self.allowlisted(target):
            for address in addresses:
                check_address(address, target.host)
        return addresses[0]

    def check_redirect(self, current: Target, location: str) -> Target:
        from urllib.parse import urljoin

        following = self.check_url(
            urljoin(f"{current.scheme}://{current.host}:{current.port}{current.path}", location)
        )
        if current.scheme == "https" and following.scheme == "http":
            raise ProxyRefused(f"redirect from https to http ({location!r}) refused")
        return following


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64-style IPv6 address, else the address itself."""
    if isinstance(address, ipaddress.IPv6Address):
        for inner in (address.ipv4_mapped, address.sixtofour):
            if inner is not None:
                return inner
        if address.teredo is not None:
            return address.teredo[1]
        if address in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def check_address(address: IPAddress, host: str) -> None:
    inner = unwrap(address)
    reasons = [  # most specific first: is_private also covers link-local and unspecified addresses
        (inner.is_loopback, "loopback"),
        (inner.is_link_local, "link-local (cloud metadata lives here)"),
        (inner.is_unspecified, "unspecified"),
        (inner.is_multicast, "multicast"),
        (isinstance(inner, ipaddress.IPv4Address) and inner in _CGNAT, "carrier-grade NAT"),
        (inner.is_reserved, "reserved"),
        (inner.is_private, "private"),
        (not inner.is_global, "not globally routable"),
    ]
    for hit, reason in reasons:
        if hit:
            shown = f"{address} ({inner})" if inner != address else str(address)
            raise ProxyRefused(
                f"{host} resolves to {shown}, a {reason} address; the proxy only fetches public sites"
            )
