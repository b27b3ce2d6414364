"""Verification end to end: real wheels in a real farm index, the real Pyodide 314 under Node, pytest with
pytest-pyodide running a recipe-style test file in the bubblewrap sandbox, per-test outcomes read back.

One farm for the module: the runtime from a loopback npm registry, micropip from a loopback upstream index, and two
versions of ``colorname`` ingested. The wheels under test are made here and never published: whatever they need must
come through the farm's index.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from farm.build.verify import Verification, VerifyItem, verify, verify_many
from farm.context import Farm
from farm.runtime.install import install_runtime
from farm.settings import Settings
from farm.verify.snapshot import SnapshotCache
from tests.conftest import CACHE, PYODIDE_VERSION
from tests.support.npm_registry import NpmRegistryServer
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel

pytestmark = [pytest.mark.node, pytest.mark.timeout(600)]
RUNNER_ASSETS = Path(__file__).parents[2] / "runner_assets"

RECIPE_TEST = """
import pytest
from pytest_pyodide import run_in_pyodide


@pytest.mark.driver_timeout(60)
@run_in_pyodide(packages=["greet"])
def test_greets_with_the_dependency_from_the_index(selenium):
    import colorname
    import greet

    # colorname 1.0 is only in the farm's index (its lock has 2.1): micropip resolved it for greet, the dist lock
    # carries what micropip installed, and loading greet by name loaded it.
    assert (greet.hello(), colorname.__version__) == ("hello old", "1.0")


def test_selenium_fixture_sees_a_wrong_answer(selenium):
    selenium.load_package("greet")
    assert selenium.run("import greet; greet.hello()") == "hello teal", "expected the newer colour"


@pytest.mark.skip(reason="needs a browser")
def test_skipped(selenium):
    raise AssertionError("never runs")


def test_the_host_side_runs_sandboxed(selenium):
    import os
    import socket

    assert not os.path.exists(DATABASE), "the farm's database is hidden"
    assert not os.path.exists(IN_HOME), "the farm user's home is hidden"
    with pytest.raises(OSError):  # a port listening on the host's loopback is not reachable
        socket.create_connection(("127.0.0.1", PORT), timeout=5)
    with pytest.raises(OSError):  # the file system is read-only outside the work directory
        open(os.path.join(os.path.dirname(os.__file__), "wasmfarm-was-here"), "w")
"""


@dataclass
class VerifyFarm:
    www: Path
    farm: Farm
    wheels: Path

    def verify(self, wheel: Path, imports: list[str], test_files: list[Path]) -> Verification:
        return verify(
            wheel,
            runtime=PYODIDE_VERSION,
            www=self.www,
            blobs=self.farm.blobs,
            runner_assets=RUNNER_ASSETS,
            imports=imports,
            test_files=test_files,
        )


@pytest.fixture(scope="module")
def verify_farm(tmp_path_factory: pytest.TempPathFactory, cached_wheels: Path) -> Iterator[VerifyFarm]:
    base = tmp_path_factory.mktemp("verify")
    upstream = base / "upstream"
    upstream.mkdir()
    for wheel in ("micropip-0.11.1-py3-none-any.whl", "packaging-26.1-py3-none-any.whl"):
        shutil.copy(cached_wheels / wheel, upstream)
    index = base / "index"
    make_wheel(index, "colorname", "1.0", module_source="__version__ = '1.0'\nNAME = 'old'\n")
    make_wheel(index, "colorname", "2.1", module_source="__version__ = '2.1'\nNAME = 'teal'\n")
    tarball = CACHE / "npm" / f"pyodide-{PYODIDE_VERSION}.tgz"
    with UpstreamServer(upstream) as up, NpmRegistryServer({PYODIDE_VERSION: tarball}) as npm:
        settings = Settings(data_dir=base / "data", npm_registry=npm.url, upstream_index=up.url)
        farm = Farm.open(settings)
        install_runtime(farm, PYODIDE_VERSION)
    for path in sorted(index.glob("*.whl")):
        with farm.blobs.writer() as writer:
            writer.write(path.read_bytes())
            farm.ingestor.ingest(writer, path.name, "uploaded")
    farm.publisher.refresh_stale()
    yield VerifyFarm(settings.www_dir, farm, base / "wheels")
    farm.close()


def _in_home() -> Path:
    """Something in the home directory that the sandbox brings back nothing of (not the interpreter's prefix)."""
    needed = [Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), RUNNER_ASSETS.parent.resolve()]
    for entry in sorted(Path.home().iterdir()):
        if not any(path.is_relative_to(entry.resolve()) for path in needed):
            return entry
    pytest.fail(f"{Path.home()} has nothing the sandbox should hide")


def test_recipe_tests_run_with_pytest_pyodide_and_report_each_outcome(verify_farm: VerifyFarm) -> None:
    wheel = make_wheel(
        verify_farm.wheels,
        "greet",
        "1.0",
        requires=["colorname<2"],
        module_source="from colorname import NAME\ndef hello():\n    return f'hello {NAME}'\n",
    )
    test_file = verify_farm.wheels / "recipe" / "test_greet.py"
    test_file.parent.mkdir()
    with socket.create_server(("127.0.0.1", 0)) as listening:
        facts = {
            "DATABASE": str(verify_farm.farm.settings.data_dir / "wasmfarm.db"),
            "IN_HOME": str(_in_home()),
            "PORT": listening.getsockname()[1],
        }
        assert Path(facts["DATABASE"]).is_file() and Path(facts["IN_HOME"]).exists()
        test_file.write_text("".join(f"{k} = {v!r}\n" for k, v in facts.items()) + RECIPE_TEST)
        result = verify_farm.verify(wheel, ["greet"], [test_file])
    report = result.report
    assert report["imports"] == {"greet": "ok"}, report
    assert report["installed"]["colorname"] == "1.0"
    outcomes = {nodeid: r["outcome"] for nodeid, r in report["tests"].items()}
    assert outcomes == {
        "test_greet.py::test_greets_with_the_dependency_from_the_index[node]": "passed",
        "test_greet.py::test_selenium_fixture_sees_a_wrong_answer[node]": "failed",
        "test_greet.py::test_skipped[node]": "skipped",
        "test_greet.py::test_the_host_side_runs_sandboxed[node]": "passed",
    }, report
    failed = report["tests"]["test_greet.py::test_selenium_fixture_sees_a_wrong_answer[node]"]
    assert failed["message"].startswith("AssertionError: expected the newer colour"), failed
    assert report["tests"]["test_greet.py::test_skipped[node]"]["message"] == "needs a browser"
    assert report["summary"] == {"passed": 2, "failed": 1, "skipped": 1, "error": 0}
    assert not result.ok and report["ok"] is False
    assert result.failures() == [
        "test_greet.py::test_selenium_fixture_sees_a_wrong_answer[node]: failed: "
        "AssertionError: expected the newer colour"
    ]


def test_a_verification_that_imports_nothing_fails(verify_farm: VerifyFarm) -> None:
    wheel = make_wheel(verify_farm.wheels, "quiet", "1.0")
    result = verify_farm.verify(wheel, [], [])
    assert not result.ok
    assert result.report["imports"] == {} and "no module to import was given" in result.report["error"]
    assert result.failures() == [result.report["error"]]


@pytest.mark.parametrize("kept_snapshot", [False, True], ids=["booted", "kept-snapshot"])
def test_many_wheels_share_one_boot_but_never_each_others_modules(
    verify_farm: VerifyFarm, kept_snapshot: bool
) -> None:
    """alpha is installed first; beta, verified after it in the same Node process, cannot import it. A wheel whose
    module fails to import fails its verification, with the traceback. The same holds when every Pyodide is restored
    from the runtime's kept snapshot (nothing boots)."""
    alpha = make_wheel(verify_farm.wheels, "alpha", "1.0")
    beta = make_wheel(verify_farm.wheels, "beta", "1.0")
    broken = make_wheel(
        verify_farm.wheels, "broken", "1.0", module_source="raise ImportError('broken on purpose')\n"
    )
    results = verify_many(
        [
            VerifyItem(alpha, ["alpha"]),
            VerifyItem(beta, ["beta"]),
            VerifyItem(beta, ["beta", "alpha"]),
            VerifyItem(broken, ["broken"]),
        ],
        runtime=PYODIDE_VERSION,
        www=verify_farm.www,
        blobs=verify_farm.farm.blobs,
        runner_assets=RUNNER_ASSETS,
        snapshots=verify_farm.farm.snapshots if kept_snapshot else None,
    )
    assert [r.ok for r in results] == [True, True, False, False], [r.report for r in results]
    kept = sorted(verify_farm.farm.settings.snapshot_dir.glob("*.snapshot"))
    assert len(kept) == (1 if kept_snapshot else 0), kept
    assert results[1].report["imports"] == {"beta": "ok"}
    leaked = results[2].report["imports"]
    assert leaked["beta"] == "ok", leaked
    assert "ModuleNotFoundError: No module named 'alpha'" in leaked["alpha"], leaked
    assert "alpha" not in results[2].report["installed"]
    assert "ImportError: broken on purpose" in results[3].report["imports"]["broken"]
    assert results[3].failures() == ["import broken: ImportError: broken on purpose"]


def test_a_verification_past_its_deadline_fails_and_says_so(verify_farm: VerifyFarm) -> None:
    wheel = make_wheel(verify_farm.wheels, "slowpoke", "1.0")
    result = verify(
        wheel,
        runtime=PYODIDE_VERSION,
        www=verify_farm.www,
        blobs=verify_farm.farm.blobs,
        runner_assets=RUNNER_ASSETS,
        imports=["slowpoke"],
        test_files=[],
        timeout=1.0,  # the runtime alone takes longer to boot
    )
    assert not result.ok
    assert result.failures() == ["the import check did not finish within the verification's 1 s"], (
        result.report
    )


def test_a_kept_snapshot_that_does_not_restore_is_passed_over(
    verify_farm: VerifyFarm, tmp_path: Path
) -> None:
    """A snapshot whose bytes match their recorded sha256 but do not restore (made by another build of Node, say)
    fails no wheel: the runtime boots instead, and the log says so."""
    cache = SnapshotCache(tmp_path / "snapshots")
    runtime_dir = verify_farm.www / "pyodide" / PYODIDE_VERSION
    node = shutil.which("node")
    assert node is not None
    path = cache.path_for(PYODIDE_VERSION, cache.key(runtime_dir, node))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a memory snapshot" * 1000)
    path.with_suffix(".sha256").write_text(hashlib.sha256(path.read_bytes()).hexdigest())
    wheel = make_wheel(verify_farm.wheels, "gamma", "1.0")
    results = verify_many(
        [VerifyItem(wheel, ["gamma"]), VerifyItem(wheel, ["gamma"])],
        runtime=PYODIDE_VERSION,
        www=verify_farm.www,
        blobs=verify_farm.farm.blobs,
        runner_assets=RUNNER_ASSETS,
        snapshots=cache,
    )
    assert [r.ok for r in results] == [True, True], [r.report for r in results]
    notice = [line for line in results[0].report["log"] if "did not restore" in line]
    assert notice and notice[0].startswith("(runtime) the cached runtime snapshot did not restore"), results[
        0
    ].report
