import ipaddress
import re

import pytest

from farm.errors import ProxyRefused
from farm.proxy.policy import ProxyPolicy, Target, check_address, unwrap

POLICY = ProxyPolicy()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("http://user:pw@example.com/", "user information"),
        ("http://user@example.com/", "user information"),
        ("http://example.com:8080/", "port 8080 is not allowed"),
        ("http://127.0.0.1/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://192.168.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://224.0.0.1/", "multicast"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:a9fe:a9fe]/", "link-local"),
        ("http://[2002:7f00:1::1]/", "loopback"),
        ("http://[64:ff9b::a00:1]/", "private"),
        ("http://[fe80::1]/", "link-local"),
        ("http://2130706433/", "unusual spelling"),
        ("http://0x7f000001/", "unusual spelling"),
        ("http://0177.0.0.1/", "unusual spelling"),
        ("http://127.1/", "unusual spelling"),
        ("http:///nohost", "no host"),
    ],
)
def test_refused(url: str, message: str) -> None:
    with pytest.raises(ProxyRefused, match=message):
        POLICY.check_url(url)


@pytest.mark.parametrize(
    ("url", "host", "port", "path"),
    [
        ("https://Example.COM/a?b=1", "example.com", 443, "/a?b=1"),
        ("http://example.com", "example.com", 80, "/"),
        ("https://bücher.example/", "xn--bcher-kva.example", 443, "/"),
        ("https://cafe.be/", "cafe.be", 443, "/"),
        ("https://8.8.8.8/", "8.8.8.8", 443, "/"),
    ],
)
def test_accepted(url: str, host: str, port: int, path: str) -> None:
    target = POLICY.check_url(url)
    assert (target.host, target.port, target.path) == (host, port, path)


def test_allowlist_is_stronger_than_any_blocklist() -> None:
    policy = ProxyPolicy(allow_hosts=frozenset({"internal.corp:8443", "api.example"}))
    with pytest.raises(ProxyRefused, match="not on the proxy's allowlist"):
        policy.check_url("https://example.com/")
    trusted = policy.check_url(
        "https://internal.corp:8443/x"
    )  # another port, private address: trusted on purpose
    assert policy.check_addresses(trusted, [ipaddress.ip_address("10.0.0.5")]) == ipaddress.ip_address(
        "10.0.0.5"
    )
    with pytest.raises(ProxyRefused, match="not on the proxy's allowlist"):
        policy.check_url("https://internal.corp:9999/")


@pytest.mark.parametrize(
    ("entries", "allowed_ports", "url", "refusal"),
    [
        # An entry without a port: the allowed ports only.
        ({"api.example"}, {80, 443}, "https://api.example/", None),
        ({"api.example"}, {80, 443}, "http://api.example/", None),
        ({"api.example"}, {80, 443}, "https://api.example:8443/", "entry 'api.example' allows ports 80, 443"),
        ({"api.example"}, {80, 443}, "http://api.example:22/", "add 'api.example:22' to proxy_allow_hosts"),
        ({"api.example"}, {443}, "http://api.example/", "api.example:80 is not on the proxy's allowlist"),
        # An entry with a port: exactly that port.
        ({"internal.corp:8443"}, {80, 443}, "https://internal.corp:8443/", None),
        ({"internal.corp:8443"}, {80, 443}, "https://internal.corp/", "internal.corp:443 is not on the"),
        ({"internal.corp:8443"}, {80, 443}, "https://internal.corp:8444/", "internal.corp:8444 is not on"),
        # Both: the allowed ports and the named one.
        ({"svc.corp", "svc.corp:8443"}, {80, 443}, "https://svc.corp/", None),
        ({"svc.corp", "svc.corp:8443"}, {80, 443}, "https://svc.corp:8443/", None),
        ({"svc.corp", "svc.corp:8443"}, {80, 443}, "https://svc.corp:9000/", "allows ports 80, 443"),
    ],
)
def test_allowlist_ports(entries: set[str], allowed_ports: set[int], url: str, refusal: str | None) -> None:
    policy = ProxyPolicy(allowed_ports=frozenset(allowed_ports), allow_hosts=frozenset(entries))
    if refusal is None:
        assert policy.allowlisted(policy.check_url(url))
    else:
        with pytest.raises(ProxyRefused, match=re.escape(refusal)):
            policy.check_url(url)


def test_every_resolved_address_must_be_global() -> None:
    target = Target("https", "rebind.example", 443, "/")
    with pytest.raises(ProxyRefused, match=r"rebind.example resolves to 127.0.0.1"):
        POLICY.check_addresses(
            target, [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("127.0.0.1")]
        )
    with pytest.raises(ProxyRefused, match="does not resolve"):
        POLICY.check_addresses(target, [])


def test_redirects_are_rechecked() -> None:
    start = POLICY.check_url("https://example.com/a")
    with pytest.raises(ProxyRefused, match="private"):
        POLICY.check_redirect(start, "http://10.0.0.1/")
    with pytest.raises(ProxyRefused, match="https to http"):
        POLICY.check_redirect(start, "http://example.org/")
    assert POLICY.check_redirect(start, "/b").path == "/b"


def test_unwrap() -> None:
    assert unwrap(ipaddress.ip_address("::ffff:10.0.0.1")) == ipaddress.ip_address("10.0.0.1")
    assert unwrap(ipaddress.ip_address("2001:4860:4860::8888")) == ipaddress.ip_address(
        "2001:4860:4860::8888"
    )
    check_address(ipaddress.ip_address("2001:4860:4860::8888"), "dns.google")  # global: no error
