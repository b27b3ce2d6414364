"""The scientific stack built by this farm (issue 13): pandas compiled against the farm's own numpy and contourpy
(C++ with pybind11), verified with their recipes' tests in Pyodide, installed by micropip from the index; and the
build cache shared between farms.

Compiling numpy, pandas and contourpy takes minutes on 2 cores, so the farms here keep their artifacts by build key in
``$WASMFARM_CACHE/built`` (``build_cache_dir``), outside the checkout. A clean cache builds everything; a warm one
still checks and verifies everything in Pyodide. Whatever the cache holds, the second farm of the test meets a warm
cache and must reuse, not compile.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CACHE, PYODIDE_VERSION
from tests.e2e.buildfarm import BuildFarmEnv, loopback_servers, new_farm
from tests.e2e.conftest import run_in_pyodide
from tests.support.server import serve_process

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(3600)]
SCENARIOS = Path(__file__).parent / "browser" / "stack_scenarios.mjs"
ARTIFACTS = Path(__file__).parents[2] / "artifacts"
EDITOR_PROGRAM = (
    "import contourpy, numpy, pandas as pd\n"
    "frame = pd.DataFrame({'city': ['Oslo', 'Lima', 'Pune'], 'temp': [3.5, 19.0, 27.25]})\n"
    "display(frame)\n"
    "z = numpy.add.outer(numpy.arange(5.0), numpy.arange(5.0))\n"
    "lines = contourpy.contour_generator(z=z, line_type='Separate').lines(4.0)\n"
    "print('total', frame['temp'].sum(), 'lines', len(lines))\n"
)

BUILD_CACHE = CACHE / "built"
PURE_DEPENDENCIES = ("python_dateutil-4.0.0-py3-none-any.whl", "tzdata-2026.6-py2.py3-none-any.whl")
STACK_TESTS = {
    "pandas": {
        f"test_pandas.py::{name}[node]": "passed"
        for name in ("test_groupby", "test_merge", "test_csv_round_trip_with_dates")
    },
    "contourpy": {"test_contourpy.py::test_circle_contours[node]": "passed"},
}


def _build_pandas(farm: BuildFarmEnv) -> dict[str, dict[str, object]]:
    mirrored = farm.run("mirror", "python-dateutil", "tzdata")  # pandas' pure run requirements, from upstream
    assert mirrored.returncode == 0, mirrored.stderr[-3000:]
    result = farm.run("build", "pandas", "contourpy", timeout=3000)
    assert result.returncode == 0, result.stderr[-4000:]
    builds = {str(b["recipe"]): b for b in farm.builds()}
    for name in ("numpy", *STACK_TESTS):
        build = builds[name]
        assert build["state"] == "succeeded" and build["published"], build
        verification = json.loads(str(build["verification"]))
        assert verification["ok"] and all(v == "ok" for v in verification["imports"].values()), verification
    for name, expected in STACK_TESTS.items():
        verification = json.loads(str(builds[name]["verification"]))
        assert {nodeid: r["outcome"] for nodeid, r in verification["tests"].items()} == expected, verification
    return builds


def test_pandas_builds_verifies_installs_and_is_reused_from_the_build_cache(
    tmp_path_factory: pytest.TempPathFactory,
    node: str,
    pyodide_dir: Path,
    cached_wheels: Path,
    tmp_path: Path,
) -> None:
    upstream = tmp_path_factory.mktemp("stack-upstream")
    for wheel in PURE_DEPENDENCIES:
        shutil.copy(cached_wheels / wheel, upstream)
    with loopback_servers(upstream, cached_wheels) as servers:
        first = new_farm(tmp_path_factory.mktemp("stack-first"), servers, build_cache_dir=str(BUILD_CACHE))
        _build_pandas(first)

        # A second farm (another data directory, say another site or CI run) with the same cache: nothing is
        # compiled, everything is checked and verified again.
        second = new_farm(tmp_path_factory.mktemp("stack-second"), servers, build_cache_dir=str(BUILD_CACHE))
        builds = _build_pandas(second)
        for name in ("numpy", *STACK_TESTS):
            checks = json.loads(str(builds[name]["checks"]))
            assert checks["passed"] and "build_cache" in checks, checks
            assert {c["check"] for c in checks["results"]} >= {"tag", "extension modules"}, checks
            log = second.run("build-log", str(builds[name]["id"]))
            assert log.returncode == 0, log.stderr
            assert "reused, not compiled again" in log.stdout and "Building wheel" not in log.stdout

        # micropip installs the published pandas and contourpy (and numpy, dateutil, tzdata) from the second
        # farm's index.
        with serve_process(second.data_dir) as url:
            out = run_in_pyodide(
                node, pyodide_dir, cached_wheels, tmp_path, f"{url}r/{PYODIDE_VERSION}/simple/",
                ["pandas", "contourpy"],
                "import json, contourpy, numpy, pandas as pd\n"
                "frame = pd.DataFrame({'k': ['a', 'b', 'a'], 'v': [1, 2, 3]})\n"
                "z = numpy.add.outer(numpy.arange(4.0), numpy.arange(4.0))\n"
                "lines = contourpy.contour_generator(z=z, line_type='Separate').lines(3.0)\n"
                "json.dumps([frame.groupby('k')['v'].sum().to_dict(), len(lines), lines[0].shape[1]])",
            )  # fmt: skip
            editor = _in_the_editor(node, url, tmp_path)
    assert out["ok"], out
    assert json.loads(str(out["result"])) == [{"a": 4, "b": 2}, 1, 2]
    installed = dict(out["installed"])  # type: ignore[call-overload]
    assert {"pandas", "contourpy", "numpy", "python-dateutil", "tzdata"} <= set(installed), installed
    # The editor in Chromium: the program locks and installs pandas and contourpy from the mirror, the DataFrame is
    # shown as a table, and nothing is fetched from anywhere but the mirror.
    assert "error" not in editor, editor
    assert str(editor["status"]).startswith("done"), editor
    assert "total 49.75 lines 1" in editor["output"], editor["output"]
    assert editor["header"][-2:] == ["city", "temp"], editor
    assert editor["cells"] == ["Oslo", "3.50", "Lima", "19.00", "Pune", "27.25"], editor
    assert not editor["errors"], editor["errors"]
    elsewhere = [r for r in editor["requests"] if not r.startswith((url, "data:", "blob:"))]
    assert not elsewhere, elsewhere


def _in_the_editor(node: str, url: str, tmp_path: Path) -> dict[str, object]:
    ARTIFACTS.mkdir(exist_ok=True)
    config = tmp_path / "stack-browser.json"
    config.write_text(
        json.dumps(
            {
                "playwright": str(CACHE / "node" / "node_modules" / "playwright-core"),
                "url": url,
                "code": EDITOR_PROGRAM,
                "requirements": "pandas\ncontourpy",
                "artifacts": str(ARTIFACTS),
            }
        )
    )
    result = subprocess.run([node, str(SCENARIOS), str(config)], capture_output=True, text=True, timeout=600)
    lines = result.stdout.strip().splitlines()
    assert lines, f"the scenario printed nothing; stderr:\n{result.stderr[-3000:]}"
    found: dict[str, object] = json.loads(lines[-1])
    return found
