"""The editor and app mode in Debian's Chromium, on the mirror's own runtime, lock and proxy."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import CACHE
from tests.e2e.conftest import Mirror
from tests.support.loopback import LoopbackServer, send
from tests.support.server import serve_process

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SCENARIOS = Path(__file__).parent / "browser" / "editor_scenarios.mjs"
ARTIFACTS = Path(__file__).parents[2] / "artifacts"


class Echo(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        send(self, 200, json.dumps({"path": self.path}).encode(), "application/json")


@pytest.fixture(scope="module")
def findings(mirror_server: Mirror, node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    ARTIFACTS.mkdir(exist_ok=True)
    with LoopbackServer(Echo) as target:
        allowed = target.url.removeprefix("http://").rstrip("/")
        # A second server process on the same data: with the proxy allowlisting the local target (the only sites a
        # test may reach are on loopback, which the proxy refuses unless an operator allowlists them).
        with serve_process(
            mirror_server.data_dir, env={"WASMFARM_PROXY_ALLOW_HOSTS": json.dumps([allowed])}
        ) as url:
            config = tmp_path_factory.mktemp("editor") / "config.json"
            config.write_text(
                json.dumps(
                    {
                        "playwright": str(CACHE / "node" / "node_modules" / "playwright-core"),
                        "url": url,
                        "proxyTarget": target.url,
                        "artifacts": str(ARTIFACTS),
                    }
                )
            )
            result = subprocess.run(
                [node, str(SCENARIOS), str(config)], capture_output=True, text=True, timeout=600
            )
            lines = result.stdout.strip().splitlines()
            assert lines, f"the scenarios printed nothing; stderr:\n{result.stderr[-3000:]}"
            data = json.loads(lines[-1])
            data["url"] = url
            yield data


def test_typed_code_with_a_mirrored_wasm_package_runs(findings: dict) -> None:
    typed = findings["typed"]
    assert "error" not in typed, typed
    assert typed["status"].startswith("done"), typed
    assert "unpacked 42" in typed["output"]
    assert typed["code"].startswith("import msgpack\n")
    assert typed["shareBoxVisible"]


def test_share_link_restores_and_runs_in_a_fresh_browser(findings: dict) -> None:
    shared = findings["shared"]
    assert "error" not in shared, shared
    assert "#v1." in shared["link"]
    assert shared["restored"]["requirements"] == "msgpack"
    assert shared["restored"]["lockSource"] == "digest"  # the exact lock the link was made with
    assert shared["restored"]["code"].startswith("import msgpack")
    assert "unpacked 42" in shared["output"]
    assert "unpacked 42" in shared["app"]["output"]  # app mode runs the same fragment full page


def test_app_mode_lets_python_build_the_page(findings: dict) -> None:
    app = findings["appUi"]
    assert "error" not in app, app
    assert app["heading"] == "Built by Python"
    assert "ui ready" in app["output"]


def test_a_secret_reaches_a_program_only_once_allowed_and_never_the_link(findings: dict) -> None:
    secret = findings["secret"]
    assert "error" not in secret, secret
    allowed = secret["allowed"]
    assert "API_TOKEN" in allowed["asked"] and "to call the API" in allowed["asked"], allowed
    assert "token s3cr3t-value s3cr3t-value" in allowed["output"]  # get_secret and os.environ
    assert "token s3cr3t-value" in secret["again"]["output"]  # granted: the run did not ask again
    assert "s3cr3t" not in secret["link"] and "s3cr3t" not in secret["decoded"]
    listed = secret["listed"]
    assert "API_TOKEN" in listed and "OTHER" in listed and "s3cr3t" not in listed
    assert "allowed for main.py" in listed
    revoked = secret["revoked"]
    assert "allowed for" not in revoked["listed"] and "API_TOKEN" in revoked["asked"]  # revoked: asked again
    assert "SecretNotGranted" in revoked["output"] and "s3cr3t" not in revoked["output"]


def test_a_shared_link_gets_no_secret_unless_allowed_and_only_the_one_allowed(findings: dict) -> None:
    hostile = findings["hostileLink"]
    assert "error" not in hostile, hostile
    assert "API_TOKEN" in hostile["asked"] and "to prove a point" in hostile["asked"]
    assert "OTHER" not in hostile["asked"]  # asked for by a computed name: never declared, never asked
    denied = hostile["denied"]["output"]
    assert "environ []" in denied and "s3cr3t" not in denied and "other-value" not in denied
    assert "get_secret API_TOKEN refused SecretNotGranted" in denied and "Secrets panel" in denied
    allowed = hostile["allowed"]["output"]
    assert "fresh interpreter True" in allowed  # a worker that ran the program without secrets is not reused
    assert "environ ['API_TOKEN']" in allowed and "get_secret API_TOKEN s3cr3t-value" in allowed
    assert "get_secret OTHER refused SecretNotGranted" in allowed and "other-value" not in allowed
    for output in (denied, allowed):
        for api in ("localStorage", "caches", "indexedDB", "Worker"):
            assert f"{api} absent" in output  # the worker has none of the origin's storage


def test_app_mode_has_an_opaque_origin_and_asks_for_typed_secrets(findings: dict) -> None:
    app = findings["appSecrets"]
    assert "error" not in app, app
    assert "API_TOKEN" in app["asked"] and "for the app" in app["asked"]
    assert "typed typed-value" in app["output"]
    assert "environ []" in app["output"] and "s3cr3t" not in app["output"]  # stored secrets: out of reach
    for what in ("localStorage", "cookie", "indexedDB", "caches"):
        assert f"{what} refused True" in app["output"]  # SecurityError
    assert "origin null" in app["output"]


def test_html_output_runs_in_a_sandboxed_frame(findings: dict) -> None:
    html = findings["htmlPayload"]
    assert "error" not in html, html
    frame = html["inFrame"]
    assert frame["handler"] == "ran" and frame["script"] == "ran"  # its scripts run, in the frame
    assert frame["parent"] == frame["storage"] == "SecurityError" and frame["origin"] == "null"
    assert html["editor"] == {"pwned": None, "stored": None}
    assert 300 <= html["frameHeight"] < 600  # fitted to its content


def test_stop_interrupts_an_infinite_loop(findings: dict) -> None:
    stop = findings["stop"]
    assert "error" not in stop, stop
    assert stop["stopMs"] < 2000, stop
    assert "KeyboardInterrupt" in stop["afterStop"]["output"]  # interrupted, not only restarted
    assert "still usable" in stop["next"]["output"]
    assert findings["isolated"] is True  # COOP/COEP: the interrupt buffer path, not only the worker restart


def test_python_fetches_through_the_proxy(findings: dict) -> None:
    proxy = findings["proxy"]
    assert "error" not in proxy, proxy
    assert "proxied 200 /echo" in proxy["output"]
    assert "metadata 403 ProxyRefused" in proxy["output"]
    assert "loopback 403" in proxy["output"]


def test_rich_output_tracebacks_and_unresolvable_requirements(findings: dict) -> None:
    rich = findings["rich"]
    assert "error" not in rich, rich
    assert rich["cell"] == "cell"  # an object's _repr_html_ rendered as HTML
    assert "before error" in rich["output"]
    assert 'File "main.py", line 6' in rich["output"] and "ZeroDivisionError" in rich["output"]
    explained = rich["unresolvable"]["output"]
    assert "nothing-like-it (requested directly): this mirror has no such project" in explained


def test_works_offline_after_the_first_visit(findings: dict) -> None:
    offline = findings["offline"]
    assert "error" not in offline, offline
    assert "offline ok (3, 14) 7 {}" in offline["output"]
    assert (
        offline["boot"]["fromSnapshot"] is True
    )  # booted from the memory snapshot, and `js` calls still work


def test_no_request_leaves_the_mirror(findings: dict) -> None:
    origin = urlsplit(findings["url"])
    off = [
        u
        for u in findings["requests"]
        if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != origin.netloc
    ]
    assert off == []
    assert any("/proxy?url=" in u for u in findings["requests"])  # the fetches above went through the proxy


def test_screenshots_are_saved(findings: dict) -> None:
    assert findings["errors"] == []
    for name in ("editor.png", "app-mode.png", "app-ui.png"):
        assert (ARTIFACTS / name).stat().st_size > 2_000  # a rendered page, not an empty image
