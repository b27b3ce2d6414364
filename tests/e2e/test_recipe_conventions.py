"""Recipes written the way pyodide-recipes writes them, taken by the farm as they are (issue 11).

One farm, one ``wasmfarm build`` over recipes made here, each using one convention: a wheel as the source (whose
``source/url`` 404s, so it is found in the upstream index by its sha256), no ``test/imports`` (the wheel's own
top-level names are imported), a dependent of the wheel-source recipe, ``build/post``, ``requirements/constraint``,
``build/unvendor-tests`` with ``_retain-test-patterns``, a C extension with an unresolved function it never calls, a
wheel that fails on import, a Rust recipe and a recipe whose host requirement is no recipe. Then micropip installs
what was published from the index.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import PYODIDE_VERSION
from tests.e2e.buildfarm import BuildFarmEnv, Loopback, loopback_servers, new_farm
from tests.e2e.conftest import run_in_pyodide
from tests.support.server import serve_process
from tests.support.wheels import make_wheel

pytestmark = pytest.mark.timeout(1200)

_LAZY_C = """#include <Python.h>
extern int wasmfarm_never_defined(int);
static PyObject *call(PyObject *self, PyObject *unused) { return PyLong_FromLong(wasmfarm_never_defined(1)); }
static PyObject *answer(PyObject *self, PyObject *unused) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"call", call, METH_NOARGS, ""}, {"answer", answer, METH_NOARGS, ""}, {NULL}};
static struct PyModuleDef m = {PyModuleDef_HEAD_INIT, "_speed", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&m); }
"""
_LAZY_SETUP = (
    "from setuptools import Extension, setup\n"
    "setup(name='lazysym', version='1.0.0', packages=['lazysym'],\n"
    "      ext_modules=[Extension('lazysym._speed', ['lazysym.c'])])\n"
)
_PYPROJECT = '[build-system]\nrequires = ["setuptools>=77"]\nbuild-backend = "setuptools.build_meta"\n'


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _wheel_recipe(root: Path, name: str, wheel: Path, url: str, extra: str = "") -> None:
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    _write(
        root / name,
        {
            "meta.yaml": f"package:\n  name: {name}\n  version: '1.0'\nsource:\n  url: {url}\n  sha256: {sha}\n{extra}"
        },
    )


@pytest.fixture(scope="module")
def farm_env(tmp_path_factory: pytest.TempPathFactory, cached_wheels: Path) -> Iterator[BuildFarmEnv]:
    base = tmp_path_factory.mktemp("conventions")
    upstream_dir = base / "upstream"
    with loopback_servers(upstream_dir, cached_wheels) as servers:
        env = new_farm(base, servers)
        _recipes(env.recipes, upstream_dir, servers)
        yield env


def _recipes(root: Path, upstream_dir: Path, servers: Loopback) -> None:
    host = urlsplit(servers.upstream).netloc
    # A wheel source whose URL is PyPI's short form, which caches answer 404: found in the index by its sha256.
    wheelsrc = make_wheel(upstream_dir, "wheelsrc", "1.0", module_source="VALUE = 'from a wheel'\n")
    _wheel_recipe(root, "wheelsrc", wheelsrc, f"http://{host}/packages/py3/w/wheelsrc/{wheelsrc.name}")
    # Upstream's test files are pytest-pyodide files, not always named test_<dir>.py: all of them run.
    _write(
        root / "wheelsrc",
        {
            "test_behaviour.py": (
                "import pytest\nfrom pytest_pyodide import run_in_pyodide\n\n\n"
                "@pytest.mark.driver_timeout(60)\n@run_in_pyodide(packages=['wheelsrc'])\n"
                "def test_value_in_pyodide(selenium):\n    import sys, wheelsrc\n"
                "    assert wheelsrc.VALUE == 'from a wheel' and sys.platform == 'emscripten'\n\n\n"
                "@pytest.mark.skip(reason='shown as skipped, not failed')\n"
                "def test_skipped(selenium):\n    raise AssertionError\n"
            )
        },
    )
    # A wheel that cannot be imported in Pyodide: verification must fail, once, and publish nothing.
    bad = make_wheel(upstream_dir, "badimport", "1.0", module_source="raise ImportError('needs os.fork')\n")
    _wheel_recipe(root, "badimport", bad, f"http://{host}/packages/py3/b/badimport/{bad.name}")

    # A pure in-tree package: needs the wheel-source recipe, a post script, a constraint, tests to unvendor.
    _write(
        root / "convent",
        {
            "meta.yaml": (
                "package:\n  name: convent\n  version: 1.0.0\n  top-level:\n    - convent\nsource:\n  path: src\n"
                'build:\n  post: |\n    echo "posted in $PWD with $PKG_VERSION" > convent/POSTED.txt\n'
                "    test -f $PKGDIR/meta.yaml\n"
                "  _retain-test-patterns:\n    - convent/tests/conftest.py\n"
                "requirements:\n  run:\n    - wheelsrc\n  constraint:\n    - setuptools==84.2.1\n"
            ),
            "src/pyproject.toml": _PYPROJECT,
            "src/setup.py": (
                "from setuptools import setup\n"
                "setup(name='convent', version='1.0.0', packages=['convent', 'convent.tests'],\n"
                "      install_requires=['wheelsrc'])\n"
            ),
            "src/convent/__init__.py": "import wheelsrc\nVALUE = 'convent over ' + wheelsrc.VALUE\n",
            "src/convent/tests/__init__.py": "",
            "src/convent/tests/test_convent.py": "def test_value():\n    import convent\n    assert convent.VALUE\n",
            "src/convent/tests/conftest.py": "# kept by _retain-test-patterns\n",
        },
    )
    # The same with a constraint no build requirement satisfies: the recipe's fault, not retried.
    _write(
        root / "overconstrained",
        {
            "meta.yaml": (
                "package:\n  name: overconstrained\n  version: 1.0.0\nsource:\n  path: src\n"
                "requirements:\n  constraint:\n    - setuptools<1\n"
            ),
            "src/pyproject.toml": _PYPROJECT,
            "src/setup.py": "from setuptools import setup\nsetup(name='overconstrained', version='1.0.0', packages=['overconstrained'])\n",
            "src/overconstrained/__init__.py": "",
        },
    )
    # A C extension with a function import nothing provides, in a function its tests never call.
    _write(
        root / "lazysym",
        {
            "meta.yaml": (
                "package:\n  name: lazysym\n  version: 1.0.0\nsource:\n  path: src\n"
                "test:\n  imports:\n    - lazysym._speed\n"
            ),
            "src/pyproject.toml": _PYPROJECT,
            "src/setup.py": _LAZY_SETUP,
            "src/lazysym.c": _LAZY_C,
            "src/lazysym/__init__.py": "",
        },
    )
    # Refused before any build: Rust, and a host requirement that is no recipe.
    _write(
        root / "oxide",
        {
            "meta.yaml": (
                "package:\n  name: oxide\n  version: 1.0.0\nsource:\n  path: src\n"
                "requirements:\n  executable:\n    - rustup\n"
            ),
            "src/setup.py": "",
        },
    )
    _write(
        root / "needscrc",
        {
            "meta.yaml": (
                "package:\n  name: needscrc\n  version: 1.0.0\nsource:\n  path: src\n"
                "requirements:\n  host:\n    - libcrc32c\n"
            ),
            "src/setup.py": "",
        },
    )


@dataclass
class Built:
    builds: dict[str, dict[str, object]]  # the newest build of each recipe
    stderr: str  # what `wasmfarm build` said

    def __getitem__(self, recipe: str) -> dict[str, object]:
        return self.builds[recipe]


@pytest.fixture(scope="module")
def built(farm_env: BuildFarmEnv) -> Built:
    names = ["wheelsrc", "badimport", "convent", "overconstrained", "lazysym", "oxide", "needscrc"]
    result = farm_env.run("build", *names, timeout=1500)
    assert result.returncode == 1, result.stderr[-3000:]  # some recipes cannot be built, on purpose
    builds: dict[str, dict[str, object]] = {}
    for build in reversed(farm_env.builds()):
        builds[str(build["recipe"])] = build
    return Built(builds, result.stderr)


def _json(build: dict[str, object], key: str) -> dict[str, object]:
    return dict(json.loads(str(build[key])))


def test_lint_refuses_rust_and_a_missing_host_recipe_and_the_rest_builds(
    farm_env: BuildFarmEnv, built: Built
) -> None:
    lint = farm_env.run("recipes", "lint", str(farm_env.recipes))
    assert lint.returncode == 1
    assert (
        "oxide/meta.yaml:8: requirements/executable/0: 'rustup': the builder image has no Rust toolchain"
        in (lint.stderr)
    )
    assert "needscrc/meta.yaml:8: requirements/host/0: 'libcrc32c' is not a recipe in" in lint.stderr
    assert "not built: " in built.stderr and "no Rust toolchain for Emscripten" in built.stderr
    assert "oxide" not in built.builds and "needscrc" not in built.builds  # never started
    assert built["wheelsrc"]["state"] == "succeeded" and built["convent"]["state"] == "succeeded"


def test_a_wheel_source_found_by_its_hash_is_verified_by_its_own_names_and_published(
    farm_env: BuildFarmEnv, built: Built
) -> None:
    build = built["wheelsrc"]
    assert build["state"] == "succeeded" and build["published"] and build["attempts"] == 1
    assert build["wheel_filename"] == "wheelsrc-1.0-py3-none-any.whl"
    verification = _json(build, "verification")
    assert verification["ok"] and verification["imports"] == {"wheelsrc": "ok"}  # no test/imports: its names
    tests = verification["tests"]
    assert isinstance(tests, dict)
    assert {nodeid: r["outcome"] for nodeid, r in tests.items()} == {
        "test_behaviour.py::test_value_in_pyodide[node]": "passed",
        "test_behaviour.py::test_skipped[node]": "skipped",
    }, tests
    log = farm_env.run("build-log", str(build["id"])).stdout
    assert "/packages/py3/w/wheelsrc/wheelsrc-1.0-py3-none-any.whl: HTTP 404" in log  # the recipe's URL
    assert "/files/wheelsrc-1.0-py3-none-any.whl: ok" in log  # where the upstream index lists the same hash
    assert (farm_env.data_dir / "www" / "simple" / "wheelsrc" / "index.html").is_file()


def test_an_import_failure_is_permanent_and_nothing_is_published(built: Built) -> None:
    build = built["badimport"]
    assert build["state"] == "failed" and build["attempts"] == 1 and not build["published"]
    assert "needs os.fork" in str(build["error"])
    assert not _json(build, "verification")["ok"]


def test_post_constraint_and_unvendored_tests_have_their_effect(farm_env: BuildFarmEnv, built: Built) -> None:
    build = built["convent"]
    assert build["state"] == "succeeded" and build["published"], build["error"]
    wheel = farm_env.data_dir / "builds" / str(build["id"]) / "out" / str(build["wheel_filename"])
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        posted = zf.read("convent/POSTED.txt").decode()
        record = zf.read("convent-1.0.0.dist-info/RECORD").decode()
    assert posted.startswith("posted in /work/pkg/convent-1.0.0 with 1.0.0")  # build/post ran in the wheel
    assert "convent/POSTED.txt,sha256=" in record  # and the wheel was packed again, RECORD and all
    assert "convent/tests/test_convent.py" not in names and "convent/tests/__init__.py" not in names
    assert "convent/tests/conftest.py" in names  # _retain-test-patterns
    tests = _json(build, "checks")["unvendored_tests"]
    assert isinstance(tests, dict) and tests["filename"] == "convent_tests-1.0.0-py3-none-any.whl"
    log = farm_env.run("build-log", str(build["id"])).stdout
    assert (
        "# requirements/constraint: setuptools==84.2.1" in log
        and "(--constraint=/work/constraints.txt)" in log
    )
    assert (farm_env.data_dir / "www" / "simple" / "convent-tests" / "index.html").is_file()

    over = built["overconstrained"]
    assert over["state"] == "failed" and over["attempts"] == 1  # the recipe's fault: not retried
    assert "under requirements/constraint" in str(over["error"])


def test_an_unresolved_function_never_called_is_published_with_a_warning(
    built: Built,
) -> None:
    build = built["lazysym"]
    assert build["state"] == "succeeded" and build["published"], build["error"]
    results = _json(build, "checks")["results"]
    assert isinstance(results, list)
    [warning] = [r for r in results if r.get("warning")]
    assert warning["check"] == "unresolved functions" and "env.wasmfarm_never_defined" in warning["detail"]
    assert _json(build, "verification")["imports"] == {"lazysym._speed": "ok"}


def test_micropip_installs_what_was_published(
    farm_env: BuildFarmEnv,
    built: Built,
    node: str,
    pyodide_dir: Path,
    cached_wheels: Path,
    tmp_path: Path,
) -> None:
    code = (
        "import json, convent, lazysym._speed as s, convent.tests.test_convent as t\n"
        "t.test_value()\n"
        "json.dumps([convent.VALUE, s.answer()])"
    )
    with serve_process(farm_env.data_dir) as url:
        out = run_in_pyodide(
            node,
            pyodide_dir,
            cached_wheels,
            tmp_path,
            f"{url}r/{PYODIDE_VERSION}/simple/",
            ["convent", "convent-tests", "lazysym"],
            code,
        )
    assert out["ok"], out
    assert json.loads(str(out["result"])) == ["convent over from a wheel", 42]
