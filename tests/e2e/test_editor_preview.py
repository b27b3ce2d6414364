"""The editor's live preview in Debian's Chromium: a program that builds its page with ``js.document`` runs beside
the code exactly as ``/app`` shows it, says when an edit made it out of date, re-runs on Ctrl+S and on "re-run";
the layout stacks at 390 px without sideways scrolling; axe-core stays clean; other sites still cannot frame the
editor or the app. One browser, one page (preview_scenarios.mjs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html import escape
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.conftest import CACHE
from tests.e2e.conftest import Mirror
from tests.support.loopback import LoopbackServer, send
from tests.support.scenarios import run_scenarios, scenario
from tests.support.server import serve_process

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SCENARIOS = Path(__file__).parent / "browser" / "preview_scenarios.mjs"
ARTIFACTS = Path(__file__).parents[2] / "artifacts"


class Framer(BaseHTTPRequestHandler):
    """Another origin's page framing the URLs of its query (``?editor=...&app=...``), each in an iframe of that id
    marked ``data-loaded`` once it has loaded (or been refused)."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        frames = "".join(
            f'<iframe id="{escape(name)}" src="{escape(url)}" title="{escape(name)}"'
            ' onload="this.dataset.loaded = 1"></iframe>'
            for name, url in parse_qsl(urlsplit(self.path).query)
        )
        send(self, 200, f"<!DOCTYPE html><title>another site</title>{frames}".encode(), "text/html")


@pytest.fixture(scope="module")
def found(mirror_server: Mirror, node: str) -> Iterator[dict[str, object]]:
    ARTIFACTS.mkdir(exist_ok=True)
    axe = CACHE / "node" / "node_modules" / "axe-core" / "axe.min.js"
    assert axe.is_file(), "axe-core is missing: `bash ci/test-assets.sh` installs it beside playwright-core"
    with LoopbackServer(Framer) as framer:
        # A server on the module's data that lets the framing page's origin embed app mode (app_embed_origins).
        embedder = framer.url.rstrip("/")
        with serve_process(
            mirror_server.data_dir, env={"WASMFARM_APP_EMBED_ORIGINS": json.dumps([embedder])}
        ) as url:
            settings = {
                "playwright": str(CACHE / "node" / "node_modules" / "playwright-core"),
                "axe": str(axe),
                "url": url,
                "framer": framer.url,
                "unlisted": mirror_server.url,  # the same data, no embed origins
                "artifacts": str(ARTIFACTS),
            }
            config, keep = ARTIFACTS / "preview-config.json", ARTIFACTS / "preview-findings.json"
            data: dict[str, object] = run_scenarios(node, SCENARIOS, settings, config, keep=keep)
            data["url"] = url
            yield data


def test_the_preview_is_closed_until_asked_for(found: dict[str, object]) -> None:
    closed = scenario(found, "closed")
    assert closed == {"hidden": True, "expanded": "false", "frames": 0}


def test_the_preview_runs_a_js_document_app_as_app_mode_shows_it(found: dict[str, object]) -> None:
    first = scenario(found, "first")
    assert first["status"].startswith("done"), first
    assert first["title"] == "Made with js.document"
    assert "ui ready" in first["output"]
    assert first["said"] == "clicked, heading 'Made with js.document'"  # the click reached Python
    # App mode itself, on the share link of the editor's program: embedded (no "edit" link), opaque origin.
    src = urlsplit(first["src"])
    assert f"{src.scheme}://{src.netloc}{src.path}" == f"{found['url']}app"
    assert src.fragment.startswith("v1.") and src.fragment.endswith("&edit=0")
    assert first["editLink"] is False and first["origin"] == "null"
    assert 'title.textContent = "Made with js.document"' in first["program"]["main.py"]
    assert first["shareLink"].split("#", 1)[1] == src.fragment.removesuffix("&edit=0")
    assert first["frameTitle"] and "allow-same-origin" not in first["sandbox"]
    assert first["expanded"] == "true"
    assert first["bar"] == {"state": "current", "text": "showing the current program"}


def test_an_edit_marks_the_preview_out_of_date_until_ctrl_s_re_runs_it(found: dict[str, object]) -> None:
    save = scenario(found, "saveKey")
    assert save["pending"]["state"] == "stale" and "out of date" in save["pending"]["text"]
    # Saved by the autosave but not re-run: still said to be out of date, the same frame.
    assert save["saved"]["state"] == "stale" and save["saved"]["src"] == save["before"]
    assert save["title"] == "Changed by an edit"
    assert save["said"] == "clicked, heading 'Changed by an edit'"
    assert 'title.textContent = "Changed by an edit"' in save["program"]["main.py"]
    assert save["bar"]["state"] == "current"


def test_an_edit_undone_makes_the_preview_current_again(found: dict[str, object]) -> None:
    undo = scenario(found, "undo")
    assert undo["typed"]["state"] == "stale" and undo["undone"]["state"] == "current"


def test_the_re_run_button_shows_the_new_program(found: dict[str, object]) -> None:
    button = scenario(found, "button")
    assert button["pending"]["state"] == "stale"
    assert button["status"].startswith("done") and button["title"] == "Re-run by the button"
    assert button["bar"]["state"] == "current"
    # Three runs, each in a fresh frame: no entry in the editor's history (Back still leaves the editor).
    assert button["history"] == found["historyAtStart"]


def test_the_preview_sits_beside_the_code_and_under_it_on_a_phone(found: dict[str, object]) -> None:
    wide = scenario(found, "layoutWide")
    assert wide["preview"]["left"] >= wide["code"]["right"] - 1 and wide["preview"]["width"] > 400, wide
    assert abs(wide["preview"]["top"] - wide["code"]["top"]) < 1 and wide["scrollWidth"] <= wide["innerWidth"]
    narrow = scenario(found, "narrow")
    assert narrow["scrollWidth"] <= narrow["innerWidth"] == 390, narrow
    assert narrow["at360"]["scrollWidth"] <= narrow["at360"]["innerWidth"] == 360, narrow
    assert narrow["preview"]["top"] >= narrow["code"]["bottom"] - 1, narrow
    assert narrow["frame"]["width"] >= 380 and narrow["frame"]["height"] > 300, narrow


def test_axe_finds_no_serious_or_critical_violation_with_the_preview_open(found: dict[str, object]) -> None:
    assert scenario(found, "axeOpen") == {"light": [], "dark": []}
    assert scenario(found, "narrow")["axe"] == []
    assert scenario(found, "saveKey")["pending"]["axe"] == []  # out of date: the bar's colours too


def test_closing_the_preview_removes_its_app(found: dict[str, object]) -> None:
    assert scenario(found, "close") == {"hidden": True, "frames": 0, "expanded": "false"}


def test_other_sites_still_cannot_frame_the_editor_but_an_embed_origin_frames_the_app(
    found: dict[str, object],
) -> None:
    framing = scenario(found, "framing")
    editor, app = framing["editor"], framing["app"]
    assert editor["editor"] is False and not editor["url"].startswith(str(found["url"])), editor
    assert editor["title"] != "wasmfarm editor", editor
    # The same page frames the app (an allowed embedder, app_embed_origins): the refusal is the editor's own.
    assert app["url"] == f"{found['url']}app" and app["title"] == "wasmfarm app", app
    assert framing["unlisted"]["title"] != "wasmfarm app", framing["unlisted"]


def test_no_page_error_and_only_the_other_sites_frames_refused(found: dict[str, object]) -> None:
    assert found["errors"] == []
    assert scenario(found, "framing")["refusedBefore"] == 0  # the editor framing its app: nothing refused
    refused = [m for m in found["console"] if "frame-ancestors" in m]
    assert len(refused) == 2, found["console"]  # the editor and the unlisted server's app
