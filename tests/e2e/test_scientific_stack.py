"""The scientific stack built by this farm (issue 13): pandas compiled against the farm's own numpy, contourpy (C++
with pybind11), Pillow against the farm's zlib, libjpeg-turbo and FreeType, and matplotlib against its FreeType and
Qhull, lxml against the farm's libxml2 and libxslt, shapely against its GEOS, each verified with its recipe's tests in Pyodide (matplotlib's renders a PNG and checks its pixels),
installed by micropip from the index and shown in the editor; and the build cache shared between farms.

Compiling numpy, pandas, matplotlib and the rest takes minutes on 2 cores, so the farms here keep their artifacts by build key in
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
    "import matplotlib.pyplot as plt\n"
    "frame = pd.DataFrame({'city': ['Oslo', 'Lima', 'Pune'], 'temp': [3.5, 19.0, 27.25]})\n"
    "display(frame)\n"
    "z = numpy.add.outer(numpy.arange(5.0), numpy.arange(5.0))\n"
    "lines = contourpy.contour_generator(z=z, line_type='Separate').lines(4.0)\n"
    "print('total', frame['temp'].sum(), 'lines', len(lines))\n"
    "figure, axes = plt.subplots(figsize=(4, 3), dpi=50)\n"
    "axes.bar(frame['city'], frame['temp'], color='#d62728')\n"
    "axes.set_title('temperature')\n"
    "plt.show()\n"
)
EDITOR_REQUIREMENTS = "pandas\ncontourpy\nmatplotlib"
BAR_RGB = (214, 39, 40)  # #d62728

BUILD_CACHE = CACHE / "built"
# The stack's pure run requirements, mirrored from the (loopback) upstream; packaging is there already.
PURE_DEPENDENCIES = (
    "python_dateutil-4.0.0-py3-none-any.whl",
    "tzdata-2026.6-py2.py3-none-any.whl",
    "cycler-0.12.1-py3-none-any.whl",
    "fonttools-4.68.0-py3-none-any.whl",
    "pyparsing-3.3.3-py3-none-any.whl",
)
MIRRORED = ("python-dateutil", "tzdata", "cycler", "fonttools", "pyparsing", "packaging")
LIBRARIES = ("zlib", "libjpeg-turbo", "freetype", "libqhull", "libxml2", "libxslt", "geos")
STACK_TESTS = {
    "pandas": {
        f"test_pandas.py::{name}[node]": "passed"
        for name in ("test_groupby", "test_merge", "test_csv_round_trip_with_dates")
    },
    "contourpy": {"test_contourpy.py::test_circle_contours[node]": "passed"},
    "pillow": {
        f"test_pillow.py::{name}[node]": "passed"
        for name in (
            "test_png_round_trip_through_zlib",
            "test_jpeg_round_trip_through_libjpeg",
            "test_text_through_freetype",
        )
    },
    "matplotlib": {
        f"test_matplotlib.py::{name}[node]": "passed"
        for name in ("test_figure_to_png", "test_delaunay_through_qhull")
    },
    "lxml": {
        f"test_lxml.py::{name}[node]": "passed"
        for name in ("test_parse_xpath_and_serialise", "test_xslt_with_exslt", "test_html_parser")
    },
    "shapely": {
        f"test_shapely.py::{name}[node]": "passed"
        for name in ("test_overlay_buffer_and_predicates", "test_vectorised_and_errors")
    },
}


def _build_stack(farm: BuildFarmEnv) -> dict[str, dict[str, object]]:
    mirrored = farm.run("mirror", *MIRRORED)  # the stack's pure run requirements, from upstream
    assert mirrored.returncode == 0, mirrored.stderr[-3000:]
    result = farm.run("build", *STACK_TESTS, timeout=3000)
    assert result.returncode == 0, result.stderr[-4000:]
    builds = {str(b["recipe"]): b for b in farm.builds()}
    for name in LIBRARIES:
        assert builds[name]["state"] == "succeeded", builds[name]
    for name in ("numpy", *STACK_TESTS):
        build = builds[name]
        assert build["state"] == "succeeded" and build["published"], build
        verification = json.loads(str(build["verification"]))
        assert verification["ok"] and all(v == "ok" for v in verification["imports"].values()), verification
    for name, expected in STACK_TESTS.items():
        verification = json.loads(str(builds[name]["verification"]))
        assert {nodeid: r["outcome"] for nodeid, r in verification["tests"].items()} == expected, verification
    return builds


def test_stack_builds_verifies_installs_and_is_reused_from_the_build_cache(
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
        _build_stack(first)

        # A second farm (another data directory, say another site or CI run) with the same cache: nothing is
        # compiled, everything is checked and verified again.
        second = new_farm(tmp_path_factory.mktemp("stack-second"), servers, build_cache_dir=str(BUILD_CACHE))
        builds = _build_stack(second)
        for name in ("numpy", *STACK_TESTS):
            checks = json.loads(str(builds[name]["checks"]))
            assert checks["passed"] and "build_cache" in checks, checks
            assert {c["check"] for c in checks["results"]} >= {"tag", "extension modules"}, checks
            log = second.run("build-log", str(builds[name]["id"]))
            assert log.returncode == 0, log.stderr
            assert "reused, not compiled again" in log.stdout and "Building wheel" not in log.stdout
        for name in LIBRARIES:
            assert "build_cache" in json.loads(str(builds[name]["checks"])), builds[name]
            log = second.run("build-log", str(builds[name]["id"]))
            assert log.returncode == 0, log.stderr
            assert "reused, not compiled again" in log.stdout, log.stdout[-2000:]

        # micropip installs the published pandas, matplotlib, lxml and shapely (and numpy, contourpy, Pillow,
        # kiwisolver and the pure ones) from the second farm's index; the figure is rendered to PNG and read back with
        # Pillow.
        with serve_process(second.data_dir) as url:
            out = run_in_pyodide(
                node, pyodide_dir, cached_wheels, tmp_path, f"{url}r/{PYODIDE_VERSION}/simple/",
                ["pandas", "matplotlib", "lxml", "shapely"],
                "import io, json, contourpy, numpy, pandas as pd, shapely\n"
                "from lxml import etree\n"
                "import matplotlib.pyplot as plt\n"
                "from PIL import Image\n"
                "frame = pd.DataFrame({'k': ['a', 'b', 'a'], 'v': [1, 2, 3]})\n"
                "z = numpy.add.outer(numpy.arange(4.0), numpy.arange(4.0))\n"
                "lines = contourpy.contour_generator(z=z, line_type='Separate').lines(3.0)\n"
                "figure = plt.figure(figsize=(2, 1), dpi=100)\n"
                "figure.patch.set_facecolor('#00ff00')\n"
                "buffer = io.BytesIO()\n"
                "figure.savefig(buffer, format='png')\n"
                "png = Image.open(io.BytesIO(buffer.getvalue())).convert('RGB')\n"
                "json.dumps([frame.groupby('k')['v'].sum().to_dict(), len(lines), lines[0].shape[1],\n"
                "            list(png.size), list(png.getpixel((100, 50))),\n"
                "            etree.fromstring('<a><b>x</b><b>y</b></a>').xpath('//b/text()'),\n"
                "            round(shapely.Point(0, 0).buffer(1.0).area, 2)])",
            )  # fmt: skip
            editor = _in_the_editor(node, url, tmp_path)
    assert out["ok"], out
    assert json.loads(str(out["result"])) == [
        {"a": 4, "b": 2},
        1,
        2,
        [200, 100],
        [0, 255, 0],
        ["x", "y"],
        3.14,
    ]
    installed = dict(out["installed"])  # type: ignore[call-overload]
    expected = {
        "pandas",
        "contourpy",
        "numpy",
        "matplotlib",
        "pillow",
        "kiwisolver",
        "lxml",
        "shapely",
        *MIRRORED,
    }
    assert expected <= set(installed), installed
    # The editor in Chromium: the program locks and installs pandas, contourpy and matplotlib from the mirror, the
    # DataFrame is shown as a table, and nothing is fetched from anywhere but the mirror.
    assert "error" not in editor, editor
    assert str(editor["status"]).startswith("done"), editor
    assert "total 49.75 lines 1" in editor["output"], editor["output"]
    # plt.show() displays through the editor's backend (Agg's own would warn it cannot show), and matplotlib draws
    # text without deprecation warnings (it does when built against pybind11 3).
    assert "Warning" not in editor["output"], editor["output"]
    assert editor["header"][-2:] == ["city", "temp"], editor
    assert editor["cells"] == ["Oslo", "3.50", "Lima", "19.00", "Pune", "27.25"], editor
    # The figure (plt.show) as a PNG image, its pixels read from a canvas in the page: three bars in the bars' colour.
    figure = dict(editor["figure"])  # type: ignore[call-overload]
    assert figure["width"] > 150 and figure["height"] > 100, figure
    assert figure["bar_columns"] == 3 and figure["bar_pixels"] > 1000, figure
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
                "requirements": EDITOR_REQUIREMENTS,
                "bar_rgb": BAR_RGB,
                "artifacts": str(ARTIFACTS),
            }
        )
    )
    result = subprocess.run([node, str(SCENARIOS), str(config)], capture_output=True, text=True, timeout=600)
    lines = result.stdout.strip().splitlines()
    assert lines, f"the scenario printed nothing; stderr:\n{result.stderr[-3000:]}"
    found: dict[str, object] = json.loads(lines[-1])
    return found
