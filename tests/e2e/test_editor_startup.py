"""Editor start-up and errors in Debian's Chromium: Python boots in the background on page load (status "ready",
a progress bar of the bytes fetched, hidden when ready) so Run prints at once; the second visit boots from the
snapshot even when the first ran nothing; a requirements change re-locks and boots without a click; a failing
program marks its line in the gutter (in the right tab) and its frames jump to file and line.
One browser profile for all (startup_scenarios.mjs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CACHE
from tests.e2e.conftest import Mirror
from tests.support.scenarios import run_scenarios, scenario

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SCENARIOS = Path(__file__).parent / "browser" / "startup_scenarios.mjs"
RUN_AFTER_READY_MS = 3000  # Run to the first output once the page says "ready" (a loaded 2-core machine)


@pytest.fixture(scope="module")
def found(mirror_server: Mirror, node: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    config = tmp_path_factory.mktemp("startup") / "config.json"
    playwright = CACHE / "node" / "node_modules" / "playwright-core"
    settings = {"playwright": str(playwright), "url": f"{mirror_server.url}editor"}
    return run_scenarios(node, SCENARIOS, settings, config, 900)


def test_the_page_boots_python_without_a_click_and_shows_the_bytes_fetched(found: dict[str, object]) -> None:
    first = scenario(found, "firstVisit")
    assert first["status"] == "ready" and first["runsSoFar"] == 0
    assert first["boot"]["fromSnapshot"] is False
    shown = [s for s in first["progress"] if not s["hidden"]]
    assert shown, first["progress"]  # the bar was on screen while Python booted
    counted = [s for s in first["progress"] if s["position"] >= 0]  # the last one hidden, its value kept
    values = [s["value"] for s in counted]
    assert values == sorted(values), values  # bytes only ever go up
    # The runtime's files (wasm 9.6 MB, standard library 2.5 MB, scripts) as fetched: most of them counted, the
    # total known before the end (a bar that fills, not one that is always full).
    assert values[-1] > 10_000_000, counted[-1]
    assert counted[-1]["value"] >= 0.95 * counted[-1]["max"], counted[-1]
    assert any(s["value"] < 0.5 * s["max"] for s in counted), counted
    assert first["progress"][-1]["hidden"] is True and first["hiddenNow"] is True
    assert first["label"]  # the progress bar has an accessible name
    assert found["errors"] == []


def test_run_after_ready_prints_at_once(found: dict[str, object]) -> None:
    run = scenario(found, "run")
    assert run["output"] == "Hello from Pyodide on wasmfarm\n" and run["status"].startswith("done")
    assert run["ms"] < RUN_AFTER_READY_MS, run


def test_the_second_visit_boots_from_the_snapshot_though_the_first_ran_nothing(
    found: dict[str, object],
) -> None:
    first = scenario(found, "firstVisit")
    assert first["snapshot"] == "stored" and first["runsSoFar"] == 0
    second = scenario(found, "secondVisit")
    assert second["boot"]["fromSnapshot"] is True and second["status"] == "ready"
    assert second["boot"]["ms"] < first["boot"]["ms"], (first["boot"], second["boot"])


def test_a_requirements_change_relocks_and_boots_in_the_background(found: dict[str, object]) -> None:
    relock = scenario(found, "relock")
    assert relock["output"] == "packed 3\n", relock
    assert relock["ms"] < RUN_AFTER_READY_MS, relock  # msgpack was loaded before the click
    assert (
        relock["boot"]["fromSnapshot"] is False
    )  # another lock: the snapshot of the first is not used for it


def test_a_failing_line_is_marked_in_its_file_and_frames_jump(found: dict[str, object]) -> None:
    failing = scenario(found, "failing")
    assert failing["status"] == "failed"
    assert "ZeroDivisionError: division by zero" in failing["output"]
    marked = failing["marked"]
    # The innermost frame is in helpers.py: its tab is opened and its line marked.
    assert marked["tab"] == "helpers.py"
    assert marked["errorLines"] == ["    return 1 / x"]
    assert marked["markers"] == ["ZeroDivisionError: division by zero"]
    assert failing["frames"] == ['  File "main.py", line 4', '  File "/home/pyodide/helpers.py", line 3']
    jumped = failing["jumped"]
    assert jumped["tab"] == "main.py" and jumped["cursorLine"] == "4" and jumped["markers"] == []
    back = failing["back"]  # the mark stays with its file while another tab is looked at
    assert (
        back["tab"] == "helpers.py"
        and back["cursorLine"] == "3"
        and back["errorLines"] == ["    return 1 / x"]
    )
    assert failing["edited"]["errorLines"] == [] and failing["edited"]["markers"] == []  # an edit clears it
