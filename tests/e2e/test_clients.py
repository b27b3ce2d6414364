"""Real clients against a real server: micropip in Pyodide 314 under Node, pip (JSON and HTML), twine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import CACHE_PIP_HTML, Mirror, run_in_pyodide
from tests.support.wheels import make_wheel

pytestmark = [pytest.mark.e2e]
MSGPACK = "msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl"


@pytest.mark.node
def test_micropip_installs_pure_project_with_dependency_and_wasm_wheel(
    mirror_server: Mirror, node: str, pyodide_dir: Path, cached_wheels: Path, tmp_path: Path
) -> None:
    index = mirror_server.url + "r/314.0.7/simple/"
    code = "import greet, msgpack\n[greet.hello(), msgpack.unpackb(msgpack.packb({'n': [1, 2, 3]}))['n'][2]]"
    out = run_in_pyodide(node, pyodide_dir, cached_wheels, tmp_path, index, ["greet", "msgpack"], code)
    assert out["ok"], out.get("error")
    assert out["result"] == ["hello teal", 3]
    installed = out["installed"]
    assert installed["colorname"]["version"] == "2.1"
    # Proof the index served them, not Pyodide's lock: micropip says so, and the server logged the downloads.
    for name in ("greet", "colorname", "msgpack"):
        assert installed[name]["source"] != "pyodide", installed[name]
    served = {(r[2].rsplit("/", 1)[-1], r[3]) for r in mirror_server.requests() if r[2].startswith("/files/")}
    for filename in ("greet-1.0-py3-none-any.whl", "colorname-2.1-py3-none-any.whl", MSGPACK):
        assert (filename, "200") in served
    # micropip joins a base ending in "/" into "//msgpack/": the server tolerates it (and logs what was asked).
    pages = [r for r in mirror_server.requests() if re.sub("/+", "/", r[2]) == "/r/314.0.7/simple/msgpack/"]
    assert pages and pages[-1][5] == "application/vnd.pypi.simple.v1+json"


def pip_download(pip: list[str], mirror_server: Mirror, dest: Path, project: str) -> list[str]:
    """Download a project and its dependencies with pip from the all-files index; the file names."""
    result = subprocess.run(
        [*pip, "download", "--no-cache-dir", "--isolated", "--index-url", mirror_server.url + "simple/",
         "-d", str(dest), project],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PIP_CONSTRAINT": "", "PIP_FIND_LINKS": ""},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return sorted(p.name for p in dest.iterdir())


def served_as(mirror_server: Mirror, path: str) -> str:
    """The content type the server last answered a page with."""
    return [r for r in mirror_server.requests() if r[2] == path][-1][5]


def test_pip_download_through_the_json_api(mirror_server: Mirror, tmp_path: Path) -> None:
    files = pip_download([sys.executable, "-m", "pip"], mirror_server, tmp_path, "greet")
    assert files == ["colorname-2.1-py3-none-any.whl", "greet-1.0-py3-none-any.whl"]
    assert served_as(mirror_server, "/simple/greet/") == "application/vnd.pypi.simple.v1+json"


def test_pip_download_through_the_html_api(mirror_server: Mirror, tmp_path: Path) -> None:
    """pip 22.0 predates PEP 691 and asks for text/html only: the HTML page must carry it through."""
    pip = CACHE_PIP_HTML / "bin" / "pip"
    if not pip.exists():
        pytest.fail(f"{pip} is missing: `make test` (ci/test-assets.sh) creates it")
    files = pip_download([str(pip)], mirror_server, tmp_path, "greet")
    assert files == ["colorname-2.1-py3-none-any.whl", "greet-1.0-py3-none-any.whl"]
    assert served_as(mirror_server, "/simple/colorname/") == "text/html"


def test_pip_downloads_pyodide_wheels_from_the_runtime_view(mirror_server: Mirror, tmp_path: Path) -> None:
    """The docs/clients.md recipe: pip on any machine fetches what installs on Pyodide 314 from /r/314.0.7/simple/."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-cache-dir", "--isolated", "--index-url",
         mirror_server.url + "r/314.0.7/simple/", "--only-binary=:all:", "--platform", "pyemscripten_2026_0_wasm32",
         "--python-version", "3.14", "--implementation", "cp", "-d", str(tmp_path), "msgpack", "greet"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PIP_CONSTRAINT": "", "PIP_FIND_LINKS": ""},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "colorname-2.1-py3-none-any.whl",
        "greet-1.0-py3-none-any.whl",
        MSGPACK,
    ]


@pytest.mark.node
def test_twine_upload_then_micropip_installs_it(
    mirror_server: Mirror, node: str, pyodide_dir: Path, cached_wheels: Path, tmp_path: Path
) -> None:
    created = mirror_server.wasmfarm("token", "create", "--scope", "upload", "--description", "e2e")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    wheel = make_wheel(
        tmp_path / "dist", "uploaded-pkg", "0.3", module_source="def answer():\n    return 42\n"
    )
    twine = subprocess.run(
        [
            sys.executable,
            "-m",
            "twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            mirror_server.url + "legacy/",
            "-u",
            "__token__",
            "-p",
            token,
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert twine.returncode == 0, twine.stdout + twine.stderr
    out = run_in_pyodide(
        node,
        pyodide_dir,
        cached_wheels,
        tmp_path,
        mirror_server.url + "r/314.0.7/simple/",
        ["uploaded-pkg"],
        "import uploaded_pkg\nuploaded_pkg.answer()",
    )
    assert out["ok"], out.get("error")
    assert out["result"] == 42
    assert out["installed"]["uploaded-pkg"]["source"] != "pyodide"
