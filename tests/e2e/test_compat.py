"""The compatibility oracle with real runs: wheels of the farm installed with micropip and imported in Pyodide 314
under Node (the farm's own verification sandbox), kept checks that run nothing, a new upstream version that does,
and build on request turning a C sdist into a wheel that works and that micropip installs from the index.

One farm for the module (``tests.e2e.buildfarm.new_farm``: the runtime from a loopback npm registry, micropip and
the projects from a loopback upstream, the cached builder image); three Pyodide boots for the checks, two more in
the build (its verification) and the final install.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from farm.compat.requests import BuildTicket
from farm.compat.service import build_requests
from farm.compat.store import CheckStore
from farm.compat.verdict import Status, Verdict
from farm.context import Farm
from farm.mirror.upstream import UpstreamIndex
from farm.settings import Settings
from tests.conftest import CACHE, PYODIDE_VERSION
from tests.e2e.buildfarm import BuildFarmEnv, Loopback, loopback_servers, new_farm
from tests.e2e.conftest import run_in_pyodide
from tests.support.server import serve_process
from tests.support.wheels import make_sdist, make_wheel

pytestmark = [pytest.mark.node, pytest.mark.timeout(1200)]

SETUP = b"""from setuptools import Extension, setup
setup(packages=["cext"], package_dir={"": "src"}, ext_modules=[Extension("cext._speedups", ["src/cext/_speedups.c"])])
"""
SPEEDUPS = b"""#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, "The answer."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
"""
PYPROJECT = b"""[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "cext"
version = "1.0"
"""


@pytest.fixture(scope="module")
def upstream_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compat-upstream")
    make_wheel(root, "purely", "1.0", requires=["helper>=1"], module_source="from helper import NAME\n")
    make_wheel(root, "helper", "1.0", module_source="NAME = 'helper'\n")
    make_wheel(root, "broken", "1.0", module_source="raise ImportError('broken needs threads')\n")
    make_sdist(
        root,
        "cext",
        "1.0",
        module=False,
        extra_members={
            "cext-1.0/pyproject.toml": PYPROJECT,
            "cext-1.0/setup.py": SETUP,
            "cext-1.0/src/cext/__init__.py": b"from cext._speedups import answer\n",
            "cext-1.0/src/cext/_speedups.c": SPEEDUPS,
        },
    )
    return root


@pytest.fixture(scope="module")
def servers(upstream_dir: Path, cached_wheels: Path) -> Iterator[Loopback]:
    with loopback_servers(upstream_dir, cached_wheels) as found:
        yield found


@pytest.fixture(scope="module")
def compat_farm(tmp_path_factory: pytest.TempPathFactory, servers: Loopback) -> BuildFarmEnv:
    return new_farm(tmp_path_factory.mktemp("compat-farm"), servers)


def check(env: BuildFarmEnv, *args: str) -> tuple[int, dict[str, Any]]:
    result = env.run("check", "--json", *args)
    assert result.returncode in (0, 1), result.stderr[-4000:]
    return result.returncode, json.loads(result.stdout)


def by_requirement(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["requirement"]: v for v in document["verdicts"]}


def kept_checks(env: BuildFarmEnv) -> int:
    farm = Farm.open(Settings(data_dir=env.data_dir))
    try:
        return CheckStore(farm.engine).count()
    finally:
        farm.close()


def test_works_and_import_fails_from_real_runs_kept_and_rechecked(
    compat_farm: BuildFarmEnv, upstream_dir: Path
) -> None:
    code, document = check(compat_farm, "--mirror", "purely", "broken")
    assert code == 1  # broken does not work
    found = by_requirement(document)
    purely = found["purely"]
    assert (purely["status"], purely["code"], purely["version"], purely["ran"]) == (
        "works",
        "imported",
        "1.0",
        True,
    )
    assert purely["reason"] == (
        f"installed with micropip and imported (purely) in Pyodide {PYODIDE_VERSION}, with 1 dependency from this mirror"
    )
    assert purely["evidence"]["imports"] == {"purely": "ok"}
    assert purely["evidence"]["installed"]["helper"] == "1.0"  # the dependency came from the farm's index
    assert [(n["name"], n["mirrored"]) for n in purely["evidence"]["closure"]] == [
        ("purely", True),
        ("helper", True),
    ]
    assert purely["evidence"]["wheel"]["origin"] == "mirrored"
    broken = found["broken"]
    assert (broken["status"], broken["code"]) == ("fails", "import-failed")
    assert (
        broken["reason"]
        == f"import broken fails in Pyodide {PYODIDE_VERSION}: ImportError: broken needs threads"
    )
    assert "ImportError: broken needs threads" in broken["evidence"]["imports"]["broken"]
    kept = kept_checks(compat_farm)  # two available-upstream checks before mirroring, two trials after

    # Unchanged: answered from the store, no Pyodide run, no new check kept.
    code, document = check(compat_farm, "purely", "broken")
    again = by_requirement(document)
    assert all(v["from_store"] for v in again.values()), again
    assert (
        again["purely"]["check_id"] == purely["check_id"]
        and again["broken"]["check_id"] == broken["check_id"]
    )
    assert kept_checks(compat_farm) == kept

    # A new upstream version changes the input key: checked again, for real.
    make_wheel(
        upstream_dir, "purely", "1.1", requires=["helper>=1"], module_source="from helper import NAME\n"
    )
    code, document = check(compat_farm, "purely")
    rechecked = by_requirement(document)["purely"]
    assert code == 0
    assert (rechecked["from_store"], rechecked["ran"], rechecked["version"]) == (False, True, "1.0")
    assert rechecked["evidence"]["newer_upstream"] == "1.1"
    assert rechecked["reason"].endswith("; 1.1 is upstream, not mirrored")
    assert kept_checks(compat_farm) == kept + 1


def test_build_on_request_turns_a_c_sdist_into_works(
    compat_farm: BuildFarmEnv,
    servers: Loopback,
    node: str,
    pyodide_dir: Path,
    cached_wheels: Path,
    tmp_path: Path,
) -> None:
    code, document = check(compat_farm, "cext")
    buildable = Verdict.from_json(document["verdicts"][0])
    assert (buildable.status, buildable.code.value) == (Status.BUILDABLE, "sdist-compiled")

    # Two requests for the same thing: one build (nothing works it off yet: no message is sent).
    settings = Settings(
        data_dir=compat_farm.data_dir,
        builder_dir=CACHE / "builders",
        recipes_dir=compat_farm.recipes,
        upstream_index=servers.upstream,
    )
    farm = Farm.open(settings)
    index = UpstreamIndex(servers.upstream)
    try:
        requests = build_requests(farm, index, lambda build_id, step: None)
        first: BuildTicket = requests.request(buildable)
        second = requests.request(buildable)
    finally:
        index.close()
        farm.close()
    assert (first.status, first.generated) == ("queued", True)
    assert (second.status, second.build_id, second.generated) == ("joined", first.build_id, False)
    generated = compat_farm.data_dir / "generated-recipes" / "cext" / "meta.yaml"
    assert first.recipe == str(generated) and generated.is_file()
    assert not (compat_farm.recipes / "cext").exists()  # hand-written recipes are left alone

    # The CLI joins that build, works it off, and the verdict becomes "works" once it is published.
    code, document = check(compat_farm, "--build", "cext")
    assert code == 0, document
    [ticket] = document["builds"]
    assert (ticket["status"], ticket["build_id"]) == ("joined", first.build_id)
    [verdict] = document["verdicts"]
    assert (verdict["status"], verdict["code"], verdict["ran"]) == ("works", "imported", True), verdict
    assert verdict["evidence"]["wheel"]["origin"] == "built"
    assert verdict["evidence"]["wheel"]["filename"] == "cext-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"
    build = next(b for b in compat_farm.builds() if b["id"] == first.build_id)
    assert build["state"] == "succeeded" and build["published"]

    # micropip installs it from the farm's index in a fresh Pyodide, and the compiled module answers.
    with serve_process(compat_farm.data_dir) as url:
        out = run_in_pyodide(
            node, pyodide_dir, cached_wheels, tmp_path, f"{url}r/{PYODIDE_VERSION}/simple/", ["cext"],
            "import cext, cext._speedups\ncext.answer()",
        )  # fmt: skip
    assert out["ok"], out
    assert out["result"] == 42
