"""The /compat pages in Debian's Chromium against a real ``wasmfarm serve``: search with completion, open a project
whose only file upstream is a C sdist (*buildable*), build it from the page with a build-scope token and follow the
build live until the verdict is *works*, then "try it" opens the editor with the requirement, installs it from the
mirror and imports it; an admin scans a list from the summary page and it reloads counted. One small build (the C
extension of ``tests/e2e/test_compat.py``), one Pyodide in Chromium. Then, over HTTP, an admin's "mirror it" for a
pure project that is only upstream, rechecked in Pyodide.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from farm.compat.tryit import decode
from tests.conftest import CACHE
from tests.e2e.buildfarm import BuildFarmEnv, Loopback, loopback_servers, new_farm
from tests.e2e.test_compat import PYPROJECT, SETUP, SPEEDUPS
from tests.support.server import serve_process
from tests.support.wheels import make_sdist, make_wheel

pytestmark = [pytest.mark.node, pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(1800)]
SCENARIOS = Path(__file__).parent / "browser" / "compat_scenarios.mjs"
ARTIFACTS = Path(__file__).parents[2] / "artifacts"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, cached_wheels: Path) -> Iterator[Loopback]:
    root = tmp_path_factory.mktemp("compat-page-upstream")
    make_sdist(
        root, "cext", "1.0", module=False,
        extra_members={
            "cext-1.0/pyproject.toml": PYPROJECT,
            "cext-1.0/setup.py": SETUP,
            "cext-1.0/src/cext/__init__.py": b"from cext._speedups import answer\n",
            "cext-1.0/src/cext/_speedups.c": SPEEDUPS,
        },
    )  # fmt: skip
    make_wheel(root, "purely", "1.0", requires=["helper>=1"], module_source="from helper import NAME\n")
    make_wheel(root, "helper", "1.0", module_source="NAME = 'helper'\n")
    with loopback_servers(root, cached_wheels) as found:
        yield found


@pytest.fixture(scope="module")
def findings(
    tmp_path_factory: pytest.TempPathFactory, servers: Loopback, node: str
) -> Iterator[dict[str, Any]]:
    env: BuildFarmEnv = new_farm(tmp_path_factory.mktemp("compat-page"), servers)
    checked = env.run("check", "cext")  # what an operator's scan would have kept: buildable
    assert checked.returncode == 1 and "buildable" in checked.stdout, checked.stdout + checked.stderr
    created = env.run("token", "create", "--scope", "build")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[0]
    admin = env.run("token", "create", "--scope", "admin")
    assert admin.returncode == 0, admin.stderr
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_process(env.data_dir, {**env.env, "WASMFARM_COMPAT_REQUESTS": "token"}) as url:
        config = tmp_path_factory.mktemp("compat-browser") / "config.json"
        config.write_text(
            json.dumps(
                {
                    "playwright": str(CACHE / "node" / "node_modules" / "playwright-core"),
                    "url": url,
                    "project": "cext",
                    "token": token,
                    "adminToken": admin.stdout.strip().splitlines()[0],
                    "scanList": "# after the build\ncext\npurely\nno-such-thing-here\n",
                    "artifacts": str(ARTIFACTS),
                    "buildTimeoutMs": 900_000,
                }
            )
        )
        result = subprocess.run(
            [node, str(SCENARIOS), str(config)], capture_output=True, text=True, timeout=1500
        )
        lines = result.stdout.strip().splitlines()
        assert lines, f"the scenarios printed nothing; stderr:\n{result.stderr[-3000:]}"
        data = json.loads(lines[-1])
        data["builds"] = env.builds()
        data["mirror"] = mirror_as_admin(url, env)
        yield data


def mirror_as_admin(url: str, env: BuildFarmEnv) -> dict[str, Any]:
    """ "Mirror it" (admin) for a project that is only upstream, then the task's recheck in Pyodide."""
    created = env.run("token", "create", "--scope", "admin")
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[0]}"}
    before = httpx.post(f"{url}compat/purely/check", headers=headers).json()
    task = httpx.post(f"{url}compat/purely/mirror", headers=headers).json()
    deadline = time.monotonic() + 300
    while task["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
        task = httpx.get(url + task["url"].lstrip("/")).json()
    return {"before": _wait(url, before), "task": task}


def _wait(url: str, task: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while task["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.3)
        task = httpx.get(url + task["url"].lstrip("/")).json()
    return task


def test_search_completes_names_and_opens_the_project(findings: dict[str, Any]) -> None:
    search = findings["search"]
    assert "error" not in search, search
    assert "cext" in search["suggestions"] and search["prefix"] == "ce"
    assert search["url"].endswith("/compat/cext")
    assert "buildable" in search["counts"]


def test_build_from_the_page_is_followed_live_to_works(findings: dict[str, Any]) -> None:
    build = findings["build"]
    assert "error" not in build, build
    assert build["before"]["status"] == "buildable", build
    assert build["after"]["status"] == "works", build
    assert "installed with micropip and imported (cext)" in build["after"]["reason"]
    seen = " | ".join(build["seen"])
    assert "build it: building (/builds/" in seen, seen  # the task's phases
    assert "running" in seen or "succeeded" in seen, (
        seen
    )  # the build's own state, from /builds/<id>?format=json
    [made] = [b for b in findings["builds"] if b["recipe"] == "cext"]
    assert made["state"] == "succeeded" and made["published"]


def test_try_it_opens_the_editor_with_the_requirement_and_the_run_succeeds(findings: dict[str, Any]) -> None:
    tried = findings["tryIt"]
    assert "error" not in tried, tried
    state = decode(findings["build"]["tryIt"].split("#", 1)[1])
    assert state["requirements"] == "cext==1.0"
    assert tried["requirements"] == "cext==1.0"
    assert tried["status"].startswith("done"), tried
    assert "imported cext" in tried["output"], tried


def test_an_unlockable_requirement_links_to_its_compat_page(findings: dict[str, Any]) -> None:
    unlockable = findings["unlockable"]
    assert "error" not in unlockable, unlockable
    assert "this mirror has no such project" in unlockable["output"]
    assert any(link.endswith("/compat/no-such-thing-here") for link in unlockable["links"]), unlockable
    assert findings["errors"] == []


def test_mirror_it_as_admin_mirrors_the_closure_and_the_recheck_works(findings: dict[str, Any]) -> None:
    before, task = findings["mirror"]["before"], findings["mirror"]["task"]
    assert before["verdicts"][0]["status"] == "available-upstream", before
    assert task["state"] == "done", task
    assert any(note.startswith("mirrored: 2 downloaded") for note in task["notes"]), task["notes"]
    [verdict] = task["verdicts"]
    assert (verdict["status"], verdict["ran"]) == ("works", True), verdict
    assert verdict["evidence"]["installed"]["helper"] == "1.0"


def test_an_admin_scans_a_list_from_the_page_and_it_ends_counted(findings: dict[str, Any]) -> None:
    scan = findings["scan"]
    assert "error" not in scan, scan
    assert scan["status"] == 202 and scan["task"]["kind"] == "scan", scan
    assert scan["task"]["state"] == "done" and scan["task"]["progress"] == {"done": 3, "total": 3}, scan
    # cext was built before (works, from the store), purely is only upstream, the last is nowhere
    assert scan["task"]["counts"] == {"works": 1, "available-upstream": 1, "fails": 1}, scan
