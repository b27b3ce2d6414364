"""The landing page (what this server hosts, read from the domain), the favicon, and HTML errors for browsers while
API and index clients keep their JSON errors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from farm.context import Farm
from farm.settings import Settings
from farm.store.models import TokenScope
from tests.support.clients import upload
from tests.support.server import serve_thread
from tests.support.wheels import make_wheel

BROWSER = {  # what Chromium sends when it navigates to a page
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-Mode": "navigate",
}
OLD_BROWSER = {"Accept": BROWSER["Accept"]}  # no Sec-Fetch-* headers
CLIENTS = {  # index and API clients: their errors stay JSON
    "pip": {"Accept": "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
            "text/html; q=0.01"},
    "uv": {"Accept": "application/vnd.pyx.simple.v1+json, application/vnd.pypi.simple.v1+json, "
           "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"},
    "fetch": {"Accept": "*/*", "Sec-Fetch-Dest": "empty"},
    "httpx": {},
}  # fmt: skip


@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[str, Farm, str]]:
    farm = Farm.open(settings)
    token = farm.tokens.create(TokenScope.UPLOAD).secret
    with serve_thread(settings) as url:
        yield url, farm, token
    farm.close()


def test_the_landing_page_counts_what_the_domain_holds(server: tuple[str, Farm, str], tmp_path: Path) -> None:
    url, farm, token = server
    empty = httpx.get(url)
    assert empty.status_code == 200 and empty.headers["content-type"].startswith("text/html")
    assert "0 project(s), 0 file(s)" in empty.text and "0 build(s)" in empty.text
    assert "Pyodide 314.0.7" in empty.text and "not installed yet" in empty.text  # configured, not added
    for link in ("/editor", "/simple/", "/builds", "/compat", "/openapi.json"):
        assert f"href='{link}'" in empty.text, link
    assert "script-src 'self'" in empty.headers["content-security-policy"]

    path = make_wheel(tmp_path, "demo", "1.0")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert upload(url, path, token, name="demo", version="1.0", sha256_digest=digest).status_code == 200
    farm.builds.create("demo", "1.0", "314.0.7", "k" * 64, "builder")
    after = httpx.get(url).text
    assert "1 project(s), 1 file(s) (1 uploaded)" in after
    assert "1 build(s): 1 queued" in after
    assert "<a href='/compat/demo'>demo</a> (<a href='/simple/demo/'>files</a>)" in after  # its package pages
    assert "id='recent'" not in empty.text


def test_the_favicon_is_served(server: tuple[str, Farm, str]) -> None:
    url, _, _ = server
    ico = httpx.get(url + "favicon.ico")
    assert ico.status_code == 200 and ico.headers["content-type"] == "image/x-icon"
    assert ico.content[:4] == b"\x00\x00\x01\x00"  # an ICO header, one image
    svg = httpx.get(url + "favicon.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg")


def test_browsers_get_html_errors_and_clients_keep_json(server: tuple[str, Farm, str]) -> None:
    url, _, _ = server
    for headers in (BROWSER, OLD_BROWSER):
        page = httpx.get(url + "no/<b>such</b>/page", headers=headers)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html"), headers
        assert "<h1>404 Not Found</h1>" in page.text
        assert "no page at &#x27;/no/&lt;b&gt;such&lt;/b&gt;/page&#x27;" in page.text  # escaped, never markup
        assert "<b>such</b>" not in page.text and "href='/'" in page.text
    for client, headers in CLIENTS.items():
        answer = httpx.get(url + "no/such/page", headers=headers)
        assert answer.status_code == 404 and answer.headers["content-type"] == "application/json", client
        assert answer.json()["message"].startswith("no page at '/no/such/page'"), client
    # A domain error (FarmError) answers the same way.
    build = httpx.get(url + "builds/999999", headers=BROWSER)
    assert build.status_code == 404 and build.headers["content-type"].startswith("text/html"), build.text
    assert httpx.get(url + "builds/999999", headers=CLIENTS["fetch"]).json()["status"] == 404


def test_the_index_answers_as_before_whoever_asks(server: tuple[str, Farm, str]) -> None:
    url, _, _ = server
    for headers in (BROWSER, *CLIENTS.values()):
        missing = httpx.get(url + "simple/no-such-project/", headers=headers)
        assert missing.status_code == 404 and "text/html" not in missing.headers["content-type"], headers
        assert httpx.get(url + "simple/", headers=headers).status_code == 200
