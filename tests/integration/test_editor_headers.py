"""The editor's pages and assets carry the policies that keep a program away from the user's secrets."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from farm.settings import Settings
from tests.support.loopback import LoopbackServer, send
from tests.support.server import free_port, serve_thread


class Page(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        send(self, 200, b"<script>fetch('/proxy?url=' + localStorage.k)</script>", "text/html")


def directives(response: httpx.Response) -> dict[str, str]:
    """The Content-Security-Policy header as {directive: sources} ("sandbox ..." keeps its tokens)."""
    parts = [part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";")]
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


@pytest.fixture(scope="module")
def responses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, httpx.Response]]:
    with LoopbackServer(Page) as target:
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("editor") / "data",
            port=free_port(),
            app_embed_origins=["https://intranet.example"],
            proxy_allow_hosts=[target.url.removeprefix("http://").rstrip("/")],
        )
        paths = {
            "editor": "editor",
            "app": "app",
            "sw": "sw.js",
            "bundle": "runner/editor/editor.js",
            "worker": "runner/editor/worker.js",
            "frame": "runner/editor/output.html",
            "smoke": "runner/smoke.html",
        }
        with serve_thread(settings) as url:
            got = {name: httpx.get(url + path) for name, path in paths.items()}
            got["proxied"] = httpx.get(url + "proxy", params={"url": target.url}, timeout=30)
            yield got


def test_every_editor_response_is_nosniff_and_isolated(responses: dict[str, httpx.Response]) -> None:
    for name, response in responses.items():
        assert response.status_code == 200, name
        assert response.headers["x-content-type-options"] == "nosniff", name
        if name != "proxied":
            assert response.headers["cross-origin-opener-policy"] == "same-origin", name
            assert response.headers["cross-origin-embedder-policy"] == "require-corp", name
    assert '"runtimes": ["314.0.7"]' in responses["editor"].text


def test_the_editor_page_runs_only_this_servers_scripts(responses: dict[str, httpx.Response]) -> None:
    editor = directives(responses["editor"])
    assert editor["script-src"] == "'self'"  # no inline script, no eval: an injection cannot run
    assert editor["default-src"] == editor["connect-src"] == editor["worker-src"] == "'self'"
    assert editor["frame-src"] == "'self'" and editor["frame-ancestors"] == "'self'"
    assert editor["object-src"] == editor["base-uri"] == editor["form-action"] == "'none'"
    assert "sandbox" not in editor  # it keeps its origin: the secrets live in its localStorage


def test_code_runs_only_in_opaque_origins_or_the_worker(responses: dict[str, httpx.Response]) -> None:
    app = directives(responses["app"])
    assert app["sandbox"] == "allow-scripts allow-forms allow-popups allow-modals allow-downloads"
    assert "'wasm-unsafe-eval'" in app["script-src"] and "'unsafe-inline'" not in app["script-src"]
    assert app["frame-ancestors"] == "'self' https://intranet.example"
    worker = directives(responses["worker"])
    assert "sandbox" not in worker and "'wasm-unsafe-eval'" in worker["script-src"]
    assert worker["worker-src"] == "'none'" and worker["default-src"] == "'self'"
    frame = directives(responses["frame"])
    assert frame["sandbox"] == "allow-scripts" and frame["default-src"] == "'none'"
    assert frame["frame-ancestors"] == "'self'"
    smoke = directives(responses["smoke"])
    assert smoke["sandbox"].startswith("allow-scripts") and "allow-same-origin" not in smoke["sandbox"]
    assert directives(responses["sw"])["default-src"] == "'self'"


def test_runner_assets_load_in_opaque_origin_documents(responses: dict[str, httpx.Response]) -> None:
    for name in ("bundle", "worker", "frame", "smoke"):
        assert responses[name].headers["access-control-allow-origin"] == "*", name
        assert responses[name].headers["cross-origin-resource-policy"] == "cross-origin", name


def test_a_proxied_page_cannot_run_on_the_editors_origin(responses: dict[str, httpx.Response]) -> None:
    proxied = responses["proxied"]
    assert proxied.headers["content-type"].startswith("text/html")  # the upstream's type, passed on
    policy = directives(proxied)
    assert "sandbox" in policy and policy["default-src"] == "'none'"


def test_the_service_worker_may_control_the_editor(responses: dict[str, httpx.Response]) -> None:
    sw = responses["sw"]
    assert sw.headers["service-worker-allowed"] == "/" and sw.headers["cache-control"] == "no-cache"
    assert sw.headers["content-type"].startswith("text/javascript")
