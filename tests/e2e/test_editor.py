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
SHELL_SCENARIOS = Path(__file__).parent / "browser" / "editor_shell_scenarios.mjs"
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
                        "url": f"{url}editor",
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


@pytest.fixture(scope="module")
def shell(mirror_server: Mirror, node: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The persistence, landing, layout and accessibility scenarios, on the module's server (no proxy needed)."""
    axe = CACHE / "node" / "node_modules" / "axe-core" / "axe.min.js"
    assert axe.is_file(), "axe-core is missing: `bash ci/test-assets.sh` installs it beside playwright-core"
    base = tmp_path_factory.mktemp("editor-shell")
    config = base / "config.json"
    config.write_text(
        json.dumps(
            {
                "playwright": str(CACHE / "node" / "node_modules" / "playwright-core"),
                "axe": str(axe),
                "url": mirror_server.url,
                "artifacts": str(base),
            }
        )
    )
    result = subprocess.run(
        [node, str(SHELL_SCENARIOS), str(config)], capture_output=True, text=True, timeout=600
    )
    lines = result.stdout.strip().splitlines()
    assert lines, f"the scenarios printed nothing; stderr:\n{result.stderr[-3000:]}"
    return dict(json.loads(lines[-1]))


def test_a_reload_brings_back_code_and_requirements_without_running(shell: dict) -> None:
    reload = shell["reload"]
    assert "error" not in reload, reload
    assert reload["fresh"].startswith('print("Hello from Pyodide')  # a first visit: the starter program
    assert reload["code"] == 'print("kept across reloads")\n' and reload["requirements"] == "msgpack"
    assert reload["hash"].startswith("#v1.") and reload["hashAfter"] == reload["hash"]
    assert reload["status"] == "ready"  # brought back, not run


def test_a_shared_link_wins_over_the_autosave_runs_and_survives_its_run_and_a_reload(shell: dict) -> None:
    shared = shell["sharedLink"]
    assert "error" not in shared, shared
    assert (
        shared["ran"]["code"] == 'print("shared program ran")\n'
        and "shared program ran" in shared["ran"]["output"]
    )
    assert shared["ran"]["hash"].startswith("#v1.")  # not removed after the run
    assert shared["reloaded"]["code"] == 'print("shared program ran")\n'
    assert shared["reloaded"]["hash"] == shared["ran"]["hash"] and shared["reloaded"]["status"] == "ready"
    # The autosaved project is kept beside the shared one, not overwritten.
    assert len(shared["projects"]) == 2


def test_the_share_box_follows_every_edit_and_copies_the_current_link(shell: dict) -> None:
    share = shell["shareFollows"]
    assert "error" not in share, share
    assert "an edit after sharing" not in share["before"]["files"]["main.py"]
    assert share["during"] == {"link": "", "copy": True}  # while an edit is pending: no link to copy at all
    assert "an edit after sharing" in share["after"]["files"]["main.py"]
    assert (
        share["copied"] == share["afterLink"] and share["hash"] == "#" + share["afterLink"].split("#", 1)[1]
    )
    fragment = share["afterLink"].split("#", 1)[1]
    assert share["appLink"].endswith(f"/app#{fragment}")
    assert share["embed"].startswith(f'<iframe src="{share["appLink"]}&edit=0"')


def test_a_damaged_link_says_what_is_wrong_and_keeps_the_own_program(shell: dict) -> None:
    damaged = shell["damaged"]
    assert "error" not in damaged, damaged
    for case, words in (
        ("base64", "not base64url"),
        ("deflate", "does not decompress"),
        ("version", '"#v1."'),
        ("fileName", 'file name "../../escape.py" is not a relative path'),
    ):
        seen = damaged[case]
        assert seen["message"].startswith("This link could not be opened") and words in seen["message"], seen
        assert "ask its author" in seen["message"] and "atob" not in seen["message"]
        assert seen["code"] == damaged["own"] and seen["role"] == "alert"
    assert "does not decompress" in damaged["app"]["message"]


def test_app_without_a_program_points_to_the_editor_and_apps_link_back(shell: dict) -> None:
    app = shell["app"]
    assert "error" not in app, app
    assert app["empty"]["visible"] and "No app in this link" in app["empty"]["text"]
    assert app["empty"]["editorHref"] == "editor" and app["empty"]["booted"] is False
    fragment = app["appLink"].split("#", 1)[1]
    assert app["withProgram"]["visible"] and app["withProgram"]["edit"] == f"editor#{fragment}"
    assert "an edit after sharing" in app["withProgram"]["output"]
    assert app["embedded"]["visible"] is False  # &edit=0: no way out of an embedding


def test_local_projects_can_be_renamed_created_opened_duplicated_and_deleted(shell: dict) -> None:
    projects = shell["projects"]
    assert "error" not in projects, projects
    assert projects["fresh"].startswith('print("Hello from Pyodide')  # a new project starts afresh
    assert projects["reopened"] == projects["kept"]  # opening the renamed project brings its code back
    after = projects["afterDelete"]
    assert "renamed project" not in after["names"] and len(after["names"]) == len(projects["before"])
    assert after["code"] == 'print("second project")\n'  # the most recent project left is opened
    assert projects["reloaded"] == after
    duplicated = projects["duplicated"]
    assert duplicated["code"] == after["code"] and duplicated["current"].endswith(" (copy)")
    assert len(duplicated["names"]) == len(after["names"]) + 1  # the original is kept
    assert set(after["names"]) <= set(duplicated["names"])


def test_a_link_to_the_old_editor_address_is_sent_on_to_the_editor(shell: dict) -> None:
    old = shell["oldLink"]
    assert "error" not in old, old
    assert old["url"].split("#")[0].endswith("/editor")


def test_no_page_scrolls_sideways_from_360_px_and_panels_stack(shell: dict) -> None:
    layout = shell["layout"]
    assert "error" not in layout, layout
    assert len(layout) == 9  # editor, landing and app at 360, 390 and 1280 px
    for name, seen in layout.items():
        assert seen["scrollWidth"] <= seen["innerWidth"], (name, seen)
        assert Path(seen["shot"]).stat().st_size > 2_000, name
    assert layout["editor-390"]["aside"] > 300  # stacked under the code, not squeezed beside it
    assert layout["editor-1280"]["aside"] < 640  # beside the code on a desktop
    assert layout["editor-390"]["h1"] and layout["landing-390"]["h1"] == "wasmfarm"


def test_axe_finds_no_serious_or_critical_violation(shell: dict) -> None:
    checked = shell["axe"]
    assert "error" not in checked, checked
    background = checked.pop("background")
    assert checked == {"editor": [], "shareOpen": [], "landing": [], "landingDark": [], "editorDark": []}
    assert background == "rgb(24, 26, 31)"  # the dark theme followed prefers-color-scheme
    assert shell["app"]["empty"]["axe"] == [] and shell["app"]["withProgram"]["axe"] == []
    assert shell["errors"] == []


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
