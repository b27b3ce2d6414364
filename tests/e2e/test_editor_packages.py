"""Packages from the editor (issue 14) against a real ``wasmfarm serve``: completion of requirement names and the
project behind an import name over HTTP (``/r/<runtime>/-/``), then in Debian's Chromium: the requirements box
completes a mirrored name, imports of mirrored modules are offered as requirements and a click adds one (the run then
works), and a requirement the mirror cannot serve shows the server's explanation with its compat verdict, linked.

The mirror is the one of ``mirror_server`` plus ``tealpaint``, whose module ``teal`` is not named like it.
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import CACHE, PYODIDE_VERSION
from tests.e2e.conftest import Mirror, mirrored_server
from tests.support.scenarios import run_scenarios, scenario
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SCENARIOS = Path(__file__).parent / "browser" / "packages_scenarios.mjs"
R = f"r/{PYODIDE_VERSION}/-"
CODE = (
    "import os, teal  # teal comes with tealpaint\n"
    "from colorname import NAME\n"
    "import micropip\n"  # every lock has it: nothing to offer
    "import helpers\n"  # the program's own file
    "print(teal.SHADE, NAME, helpers.X, micropip.__name__)\n"
)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory, cached_wheels: Path) -> Iterator[Mirror]:
    base = tmp_path_factory.mktemp("packages")
    upstream = base / "upstream"
    make_wheel(
        upstream, "greet", "1.0", requires=["colorname>=2"], module_source="from colorname import NAME\n"
    )
    make_wheel(upstream, "colorname", "2.1", module_source="NAME = 'teal'\n")
    make_wheel(upstream, "tealpaint", "1.0", extra_entries={"teal/__init__.py": b"SHADE = 'shade of teal'\n"})
    for wheel in ("micropip-0.11.1-py3-none-any.whl", "packaging-26.1-py3-none-any.whl"):
        shutil.copy(cached_wheels / wheel, upstream)
    make_wheel(upstream, "upstream-only", "1.0")  # on the upstream index, not mirrored
    served = mirrored_server(base, upstream, ["greet", "tealpaint"])
    found = next(served)
    # Kept verdicts for projects this mirror lacks: one nowhere (--offline: upstream is not asked), one upstream.
    checked = found.wasmfarm("check", "--offline", "nosuch-thing")
    assert "nosuch-thing" in checked.stdout, checked.stdout + checked.stderr
    with UpstreamServer(upstream) as index:
        checked = found.wasmfarm("check", "--upstream", index.url, "upstream-only")
    assert "available-upstream" in checked.stdout, checked.stdout + checked.stderr
    yield found
    next(served, None)


def test_completion_answers_a_prefix_from_the_runtimes_lock(mirror: Mirror) -> None:
    answer = httpx.get(f"{mirror.url}{R}/projects", params={"q": "Col"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["projects"] == [{"name": "colorname", "version": "2.1"}]
    assert answer.headers["access-control-allow-origin"] == "*"
    names = [
        p["name"] for p in httpx.get(f"{mirror.url}{R}/projects", params={"limit": 50}).json()["projects"]
    ]
    assert names == sorted(names) and {"colorname", "greet", "tealpaint", "micropip"} <= set(names)
    assert httpx.get(f"{mirror.url}{R}/projects", params={"q": "t", "limit": 1}).json()["projects"] == [
        {"name": "tealpaint", "version": "1.0"}
    ]


def test_completion_is_fast_enough_to_follow_typing(mirror: Mirror) -> None:
    with httpx.Client(base_url=mirror.url) as client:
        timings = []
        for prefix in ["c", "co", "col", "colo", "g", "gr", "t", "te"] * 3:
            started = time.perf_counter()
            assert client.get(f"{R}/projects", params={"q": prefix}).status_code == 200
            timings.append(time.perf_counter() - started)
    median = statistics.median(timings)
    print(f"completion: median {median * 1000:.1f} ms over {len(timings)} requests")
    assert median < 0.25, timings  # a keystroke's worth, with a wide margin for a loaded machine


def test_imports_map_to_mirrored_projects(mirror: Mirror) -> None:
    modules = ["teal", "tealpaint", "colorname", "os", "micropip", "packaging", "js", "requests"]
    answer = httpx.get(f"{mirror.url}{R}/imports", params=[("module", m) for m in modules])
    assert answer.status_code == 200, answer.text
    found = {i["module"]: (i["provision"], i["project"]) for i in answer.json()["imports"]}
    assert found == {
        "teal": ("mirrored", "tealpaint"),
        "tealpaint": ("mirrored", "tealpaint"),
        "colorname": ("mirrored", "colorname"),
        "os": ("stdlib", None),
        "micropip": ("included", "micropip"),
        "packaging": ("mirrored", "packaging"),  # micropip 0.11.1 does not depend on it: a requirement
        "js": ("stdlib", None),
        "requests": ("unknown", None),
    }


@pytest.mark.parametrize(
    ("path", "params", "status", "words"),
    [
        ("projects", {"q": "msgpack>=1"}, 400, "not the start of a project name"),
        ("projects", {"q": "x" * 101}, 422, "q"),
        ("projects", {"limit": "0"}, 422, "limit"),
        ("projects", {"limit": "many"}, 422, "limit"),
        ("imports", {"module": "yaml.loader"}, 400, "not a top-level module name"),
        ("imports", [("module", "m")] * 101, 400, "at most 100"),
        ("nothing", {}, 404, ""),
    ],
)
def test_hostile_queries_are_refused_with_a_message(
    mirror: Mirror, path: str, params: Any, status: int, words: str
) -> None:
    answer = httpx.get(f"{mirror.url}{R}/{path}", params=params)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["message"]


def test_other_paths_with_a_dash_segment_are_answered_not_failed(mirror: Mirror) -> None:
    # Paths with "/-/" go to the API rather than the static index: each must still get a 4xx with a message.
    for path in ("simple/-/", f"r/{PYODIDE_VERSION}/simple/-/", f"r/{PYODIDE_VERSION}/-/", "r/-/-/projects"):
        answer = httpx.get(mirror.url + path)
        assert 400 <= answer.status_code < 500 and answer.json()["message"], (path, answer.text)


def test_an_unknown_runtime_is_not_found(mirror: Mirror) -> None:
    for path in ("projects", "imports?module=os"):
        answer = httpx.get(f"{mirror.url}r/0.27.9/-/{path}")
        assert answer.status_code == 404 and "not served here" in answer.json()["message"]


@pytest.fixture(scope="module")
def found(mirror: Mirror, node: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    axe = CACHE / "node" / "node_modules" / "axe-core" / "axe.min.js"
    config = tmp_path_factory.mktemp("packages-browser") / "config.json"
    settings = {
        "playwright": str(CACHE / "node" / "node_modules" / "playwright-core"),
        "axe": str(axe),
        "url": mirror.url,
        "code": CODE,
        "files": {"helpers.py": "X = 1\n"},
        "missing": ["colorname", "nosuch-thing"],
        "unchecked": ["never-checked>=1"],
        "upstream": ["upstream-only"],
    }
    return run_scenarios(node, SCENARIOS, settings, config)


def test_the_requirements_box_completes_a_mirrored_name(found: dict[str, Any]) -> None:
    completion = scenario(found, "completion")
    assert completion["options"] == ["colorname"], completion
    assert completion["box"] == {"autocomplete": "list", "controls": "requirement-options"}
    assert completion["active"] == {"id": "requirement-option-0", "name": "colorname", "selected": "true"}
    assert completion["value"] == "colorname" and completion["listHidden"] is True
    assert completion["hiddenInVersion"] is True and completion["afterVersion"] == "colorname>=2"


def test_imports_are_offered_as_requirements_and_one_click_adds_one(found: dict[str, Any]) -> None:
    imports = scenario(found, "imports")
    assert imports["offered"] == ["colorname", "tealpaint"], imports
    assert imports["labels"] == ["add colorname", "add tealpaint"]
    assert imports["added"].split() == ["colorname", "tealpaint"]
    assert imports["saved"].split() == ["colorname", "tealpaint"]  # in the editor's state: the run locks them
    assert imports["status"].startswith("done"), imports
    assert "shade of teal teal 1 micropip" in imports["output"], imports


def test_a_missing_requirement_shows_its_explanation_and_link(found: dict[str, Any]) -> None:
    missing = scenario(found, "missing")
    assert missing["status"] == "failed", missing
    assert "nosuch-thing" in missing["explanation"], missing  # the server's explanation
    (line,) = missing["projects"]  # colorname is served: no line for it
    assert line["project"] == line["linkText"] == "nosuch-thing", missing
    assert urlsplit(line["href"]).path == "/compat/nosuch-thing"
    # The kept verdict, in words: the check above found no such project on this mirror.
    assert line["status"] == "fails" and "fails: this mirror has no such project" in line["text"], line


def test_a_requirement_never_checked_says_its_page_can_check_it(found: dict[str, Any]) -> None:
    unchecked = scenario(found, "unchecked")
    assert "never-checked" in unchecked["explanation"], unchecked
    (line,) = unchecked["projects"]
    assert urlsplit(line["href"]).path == "/compat/never-checked"
    assert line["status"] == "unchecked" and "never checked" in line["text"], line


def test_a_requirement_available_upstream_says_an_admin_can_mirror_it(found: dict[str, Any]) -> None:
    upstream = scenario(found, "upstream")
    (line,) = upstream["projects"]
    assert urlsplit(line["href"]).path == "/compat/upstream-only"
    assert line["status"] == "available-upstream", line
    assert "available upstream" in line["text"] and "An admin can mirror it" in line["text"], line


def test_the_packages_ui_passes_axe_and_the_page_had_no_errors(found: dict[str, Any]) -> None:
    assert found["axe"] == [], found["axe"]
    assert found["errors"] == []
    assert any(p.endswith("/-/projects") for p in found["asked"])
    assert any(p.endswith("/-/imports") for p in found["asked"])
