"""A yank as real clients see it: twine uploads two versions with a token restricted to the project, the same token
yanks the newer over HTTP, then micropip in Pyodide and pip take the older unless the yanked one is pinned; a delete
from the command line takes a file out of pip's reach."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Mirror, run_in_pyodide
from tests.support.wheels import make_wheel

pytestmark = [pytest.mark.e2e]


def _twine(mirror_server: Mirror, token: str, *wheels: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
         "--repository-url", mirror_server.url + "legacy/", "-u", "__token__", "-p", token, *map(str, wheels)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def _pip_download(mirror_server: Mirror, dest: Path, requirement: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-cache-dir", "--isolated", "--no-deps",
         "--index-url", mirror_server.url + "simple/", "-d", str(dest), requirement],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return sorted(p.name for p in dest.iterdir())


@pytest.mark.node
def test_a_yanked_upload_is_skipped_by_micropip_and_pip_unless_pinned(
    mirror_server: Mirror, node: str, pyodide_dir: Path, cached_wheels: Path, tmp_path: Path
) -> None:
    created = mirror_server.wasmfarm("token", "create", "--scope", "upload", "--project", "yankme")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    dist = tmp_path / "dist"
    old = make_wheel(dist, "yankme", "1.0", module_source="VERSION = '1.0'\n")
    new = make_wheel(dist, "yankme", "1.1", module_source="VERSION = '1.1'\n")
    _twine(mirror_server, token, old, new)

    yanked = httpx.post(
        mirror_server.url + "api/projects/yankme/1.1/yank",
        json={"reason": "breaks on Pyodide"},
        auth=("__token__", token),  # as twine sends it
    )
    assert yanked.status_code == 200, yanked.text

    out = run_in_pyodide(
        node, pyodide_dir, cached_wheels, tmp_path, mirror_server.url + "r/314.0.7/simple/", ["yankme"],
        "import yankme\nyankme.VERSION",
    )  # fmt: skip
    assert out["ok"], out.get("error")
    assert out["result"] == "1.0"
    assert _pip_download(mirror_server, tmp_path / "unpinned", "yankme") == [old.name]
    assert _pip_download(mirror_server, tmp_path / "pinned", "yankme==1.1") == [new.name]

    deleted = mirror_server.wasmfarm("delete", old.name, "--reason", "superseded")
    assert deleted.returncode == 0, deleted.stderr
    gone = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-cache-dir", "--isolated", "--no-deps",
         "--index-url", mirror_server.url + "simple/", "-d", str(tmp_path / "after"), "yankme==1.0"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert gone.returncode != 0 and "No matching distribution" in gone.stderr
    audit = mirror_server.wasmfarm("audit", "--json", "--limit", "4")
    entries = [json.loads(line) for line in audit.stdout.splitlines()]
    assert [(e["action"], e["target"]) for e in entries] == [
        ("delete", old.name),
        ("yank", new.name),
        ("upload", new.name),
        ("upload", old.name),
    ]
    assert entries[1]["reason"] == "breaks on Pyodide" and entries[1]["actor"] == entries[2]["actor"]
