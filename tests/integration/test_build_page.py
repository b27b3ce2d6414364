"""The build page shows the recipe tests' outcomes: counts, and a row per test with its message."""

from __future__ import annotations

import httpx

from farm.context import Farm
from farm.settings import Settings
from farm.store.models import BuildState
from tests.support.server import serve_thread

VERIFICATION = {
    "ok": False,
    "imports": {"greet": "ok"},
    "tests": {
        "test_greet.py::test_hello[node]": {"outcome": "passed", "seconds": 4.2, "message": ""},
        "test_greet.py::test_colour[node]": {
            "outcome": "failed",
            "seconds": 0.1,
            "message": "AssertionError: <red> expected\n\nE   AssertionError",
        },
        "test_greet.py::test_browser[node]": {
            "outcome": "skipped",
            "seconds": 0.0,
            "message": "needs a browser",
        },
    },
    "summary": {"passed": 1, "failed": 1, "skipped": 1, "error": 0},
}


def test_build_page_lists_each_test_outcome(settings: Settings) -> None:
    farm = Farm.open(settings)
    build = farm.builds.create("greet", "1.0", "314.0.7", "k" * 64, "builder")
    assert build.id is not None
    farm.builds.finish(build.id, BuildState.FAILED, verification=VERIFICATION, error="verification failed")
    farm.close()
    with serve_thread(settings) as url:
        page = httpx.get(f"{url}builds/{build.id}").text
        data = httpx.get(f"{url}builds/{build.id}", params={"format": "json"}).json()
    assert "<p id='test-summary'>1 passed, 1 failed, 1 skipped, 0 errors</p>" in page
    assert "<td>test_greet.py::test_colour[node]</td><td class='failed'>failed</td>" in page
    assert "<pre>AssertionError: &lt;red&gt; expected" in page  # the message, escaped
    assert "<td class='warning'>skipped</td><td>0.0</td><td><pre>needs a browser</pre>" in page
    assert "<td>import greet</td><td class='succeeded'>ok</td>" in page
    assert data["verification"]["tests"] == VERIFICATION["tests"]


def test_builds_page_says_which_recipes_are_not_built_and_why(tmp_path, database_url: str) -> None:
    recipes = tmp_path / "recipes"
    (recipes / "oxide" / "src").mkdir(parents=True)
    (recipes / "oxide" / "meta.yaml").write_text(
        "package:\n  name: oxide\n  version: '1'\nsource:\n  path: src\nrequirements:\n  executable:\n    - cargo\n"
    )
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, recipes_dir=recipes)
    with serve_thread(settings) as url:
        page = httpx.get(f"{url}builds").text
    assert "<h2>Recipes not built</h2>" in page
    assert "<code>oxide</code>" in page and "no Rust toolchain for Emscripten" in page
