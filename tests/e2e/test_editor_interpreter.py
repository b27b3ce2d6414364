"""The editor's interpreter in Debian's Chromium: Stop raises KeyboardInterrupt (busy loop, time.sleep, input())
and keeps the session; output streams between sleeps; input() round-trips; micropip installs from the mirror; the
buttons show what runs; tracebacks show the program's frames. One page for all (interpreter_scenarios.mjs)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import CACHE, PYODIDE_VERSION
from tests.e2e.conftest import Mirror
from tests.support.scenarios import run_scenarios, scenario

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SCENARIOS = Path(__file__).parent / "browser" / "interpreter_scenarios.mjs"
STOP_TARGET_MS = 200  # Stop to prompt back in a busy loop (issue 14)


@pytest.fixture(scope="module")
def found(mirror_server: Mirror, node: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    config = tmp_path_factory.mktemp("interpreter") / "config.json"
    playwright = CACHE / "node" / "node_modules" / "playwright-core"
    settings = {"playwright": str(playwright), "url": f"{mirror_server.url}editor"}
    data: dict[str, object] = run_scenarios(node, SCENARIOS, settings, config)
    data["url"] = mirror_server.url
    return data


def test_stop_in_a_busy_loop_raises_keyboard_interrupt_quickly(found: dict[str, object]) -> None:
    assert found["isolated"] is True  # the shared-buffer path, not the worker restart
    busy = scenario(found, "busyLoop")
    assert busy["status"].startswith("stopped: KeyboardInterrupt"), busy
    assert "KeyboardInterrupt" in busy["output"] and 'File "main.py", line 4' in busy["output"]
    assert busy["stopMs"] < STOP_TARGET_MS, busy


def test_stop_during_time_sleep_and_the_session_keeps_its_globals(found: dict[str, object]) -> None:
    sleeping = scenario(found, "sleepLoop")
    assert sleeping["status"].startswith("stopped: KeyboardInterrupt"), sleeping
    assert "slept 1\n" in sleeping["output"] and "slept 2" not in sleeping["output"]
    assert "time.sleep(1)" in sleeping["output"] and "KeyboardInterrupt" in sleeping["output"]
    assert sleeping["stopMs"] < 500, sleeping  # woken at once, not at the end of the sleep
    # marker and n were set by the busy loop, i by the sleep loop, a by the await loop: all three were stopped,
    # none restarted.
    assert scenario(found, "globalsKept")["output"] == "globals kept True 1 1\n"


def test_stop_while_the_program_awaits_reports_keyboard_interrupt(found: dict[str, object]) -> None:
    awaiting = scenario(found, "awaitLoop")
    assert awaiting["status"].startswith("stopped: KeyboardInterrupt"), awaiting
    output = awaiting["output"]
    assert "awaited 1\n" in output and "await asyncio.sleep(1)" in output
    assert output.endswith("KeyboardInterrupt\n\nfull traceback"), output
    assert "CancelledError" not in output
    assert awaiting["stopMs"] < 1000, awaiting


def test_an_interrupt_lost_in_the_event_loop_still_stops_the_program(found: dict[str, object]) -> None:
    lost = scenario(found, "lostInterrupt")
    assert lost["status"] == "failed", lost  # no Stop was pressed: an ordinary failed run
    assert "await asyncio.sleep(5)" in lost["output"] and lost["output"].endswith(
        "KeyboardInterrupt\n\nfull traceback"
    )
    assert "not reached" not in lost["output"]
    assert found["errors"] == []  # the worker's unhandled rejection was taken, not left to the page


def test_output_streams_between_sleeps(found: dict[str, object]) -> None:
    stream = scenario(found, "stream")
    assert stream["status"].startswith("done"), stream
    seen = stream["seen"]
    times = [seen[f"tick {i}"] for i in range(3)] + [seen["loop end"]]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    # Each line is on the page as soon as it is printed: a second (time.sleep(1)) after the one before it, give or
    # take the message's delivery; nothing waits for the end of the run.
    assert all(950 <= gap < 2500 for gap in gaps), gaps


def test_input_round_trips_through_a_field_in_the_output(found: dict[str, object]) -> None:
    asked = scenario(found, "input")
    assert asked["status"].startswith("done"), asked
    assert asked["focused"] is True and "input" in asked["label"]
    output = asked["output"]
    assert "your name? Ada Lovelace é\n" in output and "age? 36\n" in output  # prompt, then the echoed answer
    assert "hello Ada Lovelace é, 37 next year" in output
    stopped = scenario(found, "inputStopped")
    assert stopped["status"].startswith("stopped: KeyboardInterrupt"), stopped
    assert "answer = input('waiting? ')" in stopped["output"] and stopped["fieldLeft"] == 0
    assert stopped["stopMs"] < 500, stopped


def test_micropip_imports_and_installs_from_the_mirror(found: dict[str, object]) -> None:
    installed = scenario(found, "micropip")
    assert "micropip hello teal micropip" in installed["output"], installed
    requests = found["requests"]
    assert isinstance(requests, list)
    origin = urlsplit(str(found["url"])).netloc
    assert f"{found['url']}r/{PYODIDE_VERSION}/simple/greet/" in requests
    assert [
        u for u in requests if urlsplit(u).scheme.startswith("http") and urlsplit(u).netloc != origin
    ] == []


def test_buttons_show_what_runs_and_run_while_running_is_answered(found: dict[str, object]) -> None:
    assert found["idleButtons"] == {"run": False, "runText": "Run", "stop": True}
    busy = scenario(found, "busyLoop")
    assert busy["during"] == {"run": True, "runText": "Running…", "stop": False}
    assert busy["again"] == "running… — already running: Stop it first"
    assert busy["after"] == found["idleButtons"]
    assert found["statusRole"] == {"role": "status", "live": "polite"}


def test_tracebacks_show_the_programs_frames_and_the_full_one_on_demand(found: dict[str, object]) -> None:
    failed = scenario(found, "traceback")
    shown = failed["output"]
    assert 'File "main.py", line 4, in <module>' in shown and 'File "main.py", line 2, in inner' in shown
    assert "ZeroDivisionError: division by zero" in shown
    assert "_pyodide" not in shown and "full traceback" in shown
    assert "/_pyodide/_base.py" in failed["full"] and "ZeroDivisionError" in failed["full"]
    syntax = scenario(found, "syntaxError")["output"]  # the runner's frames were all it had above the error
    assert syntax.startswith('  File "main.py", line 1\n') and "SyntaxError: '(' was never closed" in syntax
    assert "Traceback" not in syntax and "_pyodide" not in syntax
    stopped = ("busyLoop", "sleepLoop", "awaitLoop", "inputStopped")
    for name in stopped:  # Stop leaves no frame of the editor's own
        output = scenario(found, name)["output"]
        assert "_pyodide" not in output and "<wasmfarm>" not in output and "http" not in output


def test_a_program_that_ignores_stop_loses_its_interpreter_and_is_told(found: dict[str, object]) -> None:
    ignored = scenario(found, "ignored")
    stopped = ignored["stopped"]
    assert stopped["status"] == "stopped (interpreter restarted)", stopped
    assert "the interpreter was restarted" in stopped["output"]
    assert 2900 <= stopped["stopMs"] < 6000, stopped
    assert ignored["next"]["output"] == "fresh False\n"  # a new interpreter: the earlier globals are gone
    assert found["errors"] == []
