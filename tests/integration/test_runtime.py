"""Runtime distributions from a local npm registry (the real pyodide tarball), generated locks, server-side locks."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import brotli
import httpx
import pytest
from click.testing import CliRunner
from pyodide_lock import PyodideLockSpec

from farm.context import Farm
from farm.errors import UnknownRuntime, UpstreamIntegrityError
from farm.runtime.install import install_runtime
from farm.runtime.npm import NpmRegistry
from farm.settings import Settings
from farm.store.models import TokenScope
from tests.conftest import CACHE, PYODIDE_VERSION
from tests.support.clients import wait_for
from tests.support.npm_registry import NpmRegistryServer, pyodide_tarball
from tests.support.server import free_port, serve_thread
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel

V = PYODIDE_VERSION
MSGPACK = "msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl"
INFO_314 = {"abi_version": "2026_0", "platform": "emscripten_5_0_3", "python": "3.14.2", "arch": "wasm32"}


@dataclass
class Runtime:
    settings: Settings
    url: str
    upload_token: str


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    base = tmp_path_factory.mktemp("runtime")
    upstream_dir = base / "upstream"
    upstream_dir.mkdir()
    for name in ("micropip-0.11.1-py3-none-any.whl", "packaging-26.1-py3-none-any.whl", MSGPACK):
        shutil.copy(CACHE / "wheels" / name, upstream_dir)
    make_wheel(upstream_dir, "greet", "1.0", requires=["colorname>=2", 'winonly; sys_platform == "win32"'])
    make_wheel(upstream_dir, "colorname", "2.1")
    make_wheel(upstream_dir, "colorname", "2.0")
    tarball = CACHE / "npm" / f"pyodide-{V}.tgz"
    with UpstreamServer(upstream_dir) as upstream, NpmRegistryServer({V: tarball}) as npm:
        settings = Settings(
            data_dir=base / "data", port=free_port(), upstream_index=upstream.url, npm_registry=npm.url
        )
        farm = Farm.open(settings)
        _installed, report = install_runtime(farm, V)
        assert report.errors == [] and report.downloaded == 2  # micropip and packaging, pinned to the lock
        from packaging.requirements import Requirement

        from farm.mirror.mirror import Mirror, Progress
        from farm.mirror.upstream import UpstreamIndex

        index = UpstreamIndex(upstream.url)
        job = Mirror(farm, index, settings.targets)
        wanted = [Requirement(r) for r in ("greet", "msgpack", "colorname")]
        job.run(job.plan_projects(wanted, all_versions=True), Progress())
        index.close()
        old = make_wheel(base / "uploads", "wasm313only", "1.0", tag="cp313-cp313-pyemscripten_2025_0_wasm32")
        with farm.blobs.writer() as writer:  # an upload for another runtime: in the index, not in this lock
            writer.write(old.read_bytes())
            farm.ingestor.ingest(writer, old.name, "uploaded")
        farm.publisher.refresh_stale()
        token = farm.tokens.create(TokenScope.UPLOAD).secret
        farm.close()
        with serve_thread(settings) as url:
            yield Runtime(settings, url, token)


def get_lock(runtime: Runtime) -> dict:
    response = httpx.get(runtime.url + f"pyodide/{V}/pyodide-lock.json")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    return response.json()


def test_runtime_files_are_served_right(runtime: Runtime) -> None:
    base = runtime.url + f"pyodide/{V}/"
    wasm = httpx.get(base + "pyodide.asm.wasm", headers={"Accept-Encoding": "identity"})
    assert wasm.headers["content-type"] == "application/wasm"
    assert wasm.headers["content-length"] == str(len(wasm.content)) == str(9598218)
    assert "immutable" in wasm.headers["cache-control"]
    assert wasm.headers["access-control-allow-origin"] == "*"
    assert "x-decoded-length" not in wasm.headers  # sent as it is: Content-Length says it
    mjs = httpx.get(base + "pyodide.mjs")
    assert mjs.headers["content-type"] == "text/javascript"
    for encoding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        with httpx.Client() as client:
            raw = client.send(
                client.build_request("GET", base + "pyodide.asm.wasm", headers={"Accept-Encoding": encoding}),
                stream=True,
            )
            assert raw.headers["content-encoding"] == encoding
            body = b"".join(raw.iter_raw())
            assert int(raw.headers["content-length"]) == len(body) < len(wasm.content) / 2
            assert decode(body) == wasm.content
            assert raw.headers["x-decoded-length"] == str(len(wasm.content))  # the editor's progress bar
            assert "X-Decoded-Length" in raw.headers["access-control-expose-headers"]
    etag = wasm.headers["etag"]
    assert (
        httpx.get(
            base + "pyodide.asm.wasm", headers={"If-None-Match": etag, "Accept-Encoding": "identity"}
        ).status_code
        == 304
    )
    assert httpx.get(base + "no-such-file.js").status_code == 404
    assert httpx.get(base + "../../files/x").status_code in (404, 301)
    missing = httpx.get(runtime.url + "pyodide/0.29.5/pyodide.mjs")
    assert missing.status_code == 404 and "wasmfarm runtime add 0.29.5" in missing.json()["message"]


def test_runtime_file_list_is_served_and_true(runtime: Runtime, tmp_path: Path) -> None:
    """wasmfarm-runtime.json lists the npm package's files with sizes and sha256 (what `runtime fetch` checks)."""
    listed = httpx.get(runtime.url + f"pyodide/{V}/wasmfarm-runtime.json")
    assert listed.status_code == 200 and listed.headers["content-type"] == "application/json"
    manifest = listed.json()
    directory = runtime.settings.www_dir / "pyodide" / V
    names = {f["name"] for f in manifest["files"]}
    assert {
        "pyodide.mjs",
        "pyodide.asm.mjs",
        "pyodide.asm.wasm",
        "python_stdlib.zip",
        "package.json",
    } <= names
    assert not [n for n in names if n.endswith((".gz", ".br", ".whl")) or n == "pyodide-lock.json"]
    for entry in manifest["files"]:
        data = (directory / entry["name"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["size"], entry["sha256"]), entry[
            "name"
        ]
    assert manifest["info"]["abi_version"] == "2026_0"
    assert manifest["npm_integrity"].startswith("sha512-")
    # A runtime installed before the list existed gets it on the next lock refresh.
    data = shutil.copytree(runtime.settings.data_dir, tmp_path / "copy", symlinks=True)
    (data / "www" / "pyodide" / V / "wasmfarm-runtime.json").unlink()
    for variant in (data / "www" / "pyodide" / V).glob("wasmfarm-runtime.json.*"):
        variant.unlink()
    farm = Farm.open(Settings(data_dir=data, port=free_port()))
    try:
        farm.locks.refresh([V])
    finally:
        farm.close()
    assert json.loads((data / "www" / "pyodide" / V / "wasmfarm-runtime.json").read_text()) == manifest


def test_generated_lock(runtime: Runtime) -> None:
    lock = get_lock(runtime)
    upstream_info = json.loads((runtime.settings.runtime_dir / V / "upstream-lock.json").read_text())["info"]
    assert lock["info"] == upstream_info
    PyodideLockSpec.from_dict(lock).check_wheel_filenames()
    packages = lock["packages"]
    # runtime_lock = all (the default): every project the mirror serves for the runtime; nothing for 3.13 only
    assert set(packages) == {"micropip", "packaging", "msgpack", "greet", "colorname"}
    assert packages["colorname"]["version"] == "2.1"  # the newest of the two mirrored versions
    assert packages["greet"]["depends"] == ["colorname"]  # the win32-only dependency evaluated away
    assert packages["msgpack"]["imports"] == ["msgpack"]
    for entry in packages.values():  # every entry is a file the mirror serves, with its real hash
        served = httpx.get(runtime.url + f"pyodide/{V}/" + entry["file_name"])
        assert served.status_code == 200, entry["file_name"]
        assert hashlib.sha256(served.content).hexdigest() == entry["sha256"]
    assert (
        packages["micropip"]["sha256"]
        == hashlib.sha256((CACHE / "wheels" / "micropip-0.11.1-py3-none-any.whl").read_bytes()).hexdigest()
    )


def test_the_own_lock_lists_the_runtimes_packages_and_leaves_out_what_is_only_mirrored(
    runtime: Runtime,
) -> None:
    """runtime_lock = own: the runtime's own packages, mirrored here (its upstream lock names micropip, packaging and
    msgpack); greet and colorname are only mirrored, reached through the index."""
    farm = Farm.open(runtime.settings.model_copy(update={"runtime_lock": "own"}))
    try:
        packages = farm.locks.build(V).lock["packages"]
    finally:
        farm.close()
    assert set(packages) == {"micropip", "packaging", "msgpack"}


def test_explain_says_why_a_mirrored_project_is_not_in_the_runtime_lock(runtime: Runtime) -> None:
    from index_server.cli import cli

    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(runtime.settings.data_dir), "explain", "greet", "--runtime", V],
        env={"WASMFARM_UPSTREAM_INDEX": "http://127.0.0.1:9/", "WASMFARM_RUNTIME_LOCK": "own"},
    )
    assert result.exit_code == 0, result.output
    assert "skipped  greet-1.0-py3-none-any.whl: installable, but only mirrored" in result.output
    assert "setting runtime_lock = own" in result.output


def test_lock_follows_uploads(runtime: Runtime, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "late-arrival", "0.1")
    with wheel.open("rb") as handle:
        response = httpx.post(
            runtime.url + "legacy/",
            files={"content": (wheel.name, handle)},
            auth=("__token__", runtime.upload_token),
        )
    assert response.status_code == 200, response.text
    wait_for(  # the lock is a shared page: it follows the upload after settings.shared_pages_quiet
        lambda: get_lock(runtime)["packages"].get("late-arrival", {}).get("file_name") == wheel.name,
        timeout=runtime.settings.shared_pages_max_delay + 10,
        what="the upload in the runtime's lock",
    )


def test_server_side_lock(runtime: Runtime) -> None:
    response = httpx.post(runtime.url + f"r/{V}/lock", json={"requirements": ["greet"]})
    assert response.status_code == 200, response.text
    lock = response.json()
    PyodideLockSpec.from_dict(lock).check_wheel_filenames()
    greet = runtime.settings.www_dir / "pyodide" / V / "greet-1.0-py3-none-any.whl"
    greet.unlink()  # as with runtime_lock = own: no link names it; it is found beside the runtime all the same
    for entry in lock["packages"].values():
        served = httpx.get(runtime.url + f"pyodide/{V}/" + entry["file_name"])
        assert served.status_code == 200, entry["file_name"]
        assert hashlib.sha256(served.content).hexdigest() == entry["sha256"]
        assert served.headers["etag"] == f'"{entry["sha256"]}"'
    assert "greet" in lock["packages"] and not greet.exists()
    other = httpx.get(runtime.url + f"pyodide/{V}/wasm313only-1.0-cp313-cp313-pyemscripten_2025_0_wasm32.whl")
    assert other.status_code == 404  # in the catalog, but not for this runtime
    assert httpx.get(runtime.url + f"pyodide/{V}/nothing-1.0-py3-none-any.whl").status_code == 404
    assert set(lock["packages"]) == {"greet", "colorname", "micropip"}  # the closure plus micropip to boot
    text = httpx.post(
        runtime.url + f"r/{V}/lock", content=b"colorname<2.1\n", headers={"Content-Type": "text/plain"}
    )
    assert text.json()["packages"]["colorname"]["version"] == "2.0"
    digest = response.headers["x-lock-digest"]
    assert hashlib.sha256(response.content).hexdigest() == digest
    kept = httpx.get(runtime.url + f"r/{V}/lock/{digest}")  # a shared app gets exactly this lock back later
    assert kept.status_code == 200 and kept.content == response.content
    assert httpx.get(runtime.url + f"r/{V}/lock/{'0' * 64}").status_code == 404
    assert httpx.get(runtime.url + f"r/{V}/lock/not-a-digest").status_code == 404
    pylock = httpx.post(runtime.url + f"r/{V}/lock", json={"requirements": ["greet"], "format": "pylock"})
    assert pylock.headers["content-type"].startswith("application/toml")
    assert 'lock-version = "1.0"' in pylock.text and "colorname-2.1-py3-none-any.whl" in pylock.text
    shouted = httpx.post(  # media types are case-insensitive (RFC 9110): still JSON, still a pylock
        runtime.url + f"r/{V}/lock",
        content=json.dumps({"requirements": ["greet"], "format": "pylock"}),
        headers={"Content-Type": "Application/JSON; charset=UTF-8"},
    )
    assert shouted.status_code == 200 and shouted.headers["content-type"].startswith("application/toml"), (
        shouted.text
    )


@pytest.mark.parametrize(
    ("requirements", "explanation"),
    [
        (["wasm313only"], "wasm313only (requested directly): no file for this runtime's tags"),
        (["greet", "colorname<2"], "colorname"),
        (["nothing-like-it"], "nothing-like-it (requested directly): this mirror has no such project"),
    ],
)
def test_server_side_lock_explains_failures(
    runtime: Runtime, requirements: list[str], explanation: str
) -> None:
    response = httpx.post(runtime.url + f"r/{V}/lock", json={"requirements": requirements})
    assert response.status_code == 422
    assert "cannot resolve the requirements for Pyodide 314.0.7" in response.json()["message"]
    assert explanation in response.json()["message"]
    compat = response.json()["compat"]  # what the editor links: each unmet requirement's compat page
    assert compat and all(c["url"] == f"/compat/{c['project']}" for c in compat)
    assert explanation.split(" ", 1)[0] in {c["project"] for c in compat}


def test_explain_command(runtime: Runtime) -> None:
    from index_server.cli import cli

    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(runtime.settings.data_dir), "explain", "colorname", "--runtime", V],
        env={"WASMFARM_UPSTREAM_INDEX": "http://127.0.0.1:9/", "WASMFARM_RUNTIME_LOCK": "all"},
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("chosen   colorname-2.1-py3-none-any.whl: newest installable version")
    assert "skipped  colorname-2.0-py3-none-any.whl: older than 2.1 [mirrored]" in lines


def test_corrupted_runtime_tarball_is_refused(tmp_path: Path) -> None:
    tarball = CACHE / "npm" / f"pyodide-{V}.tgz"
    settings = Settings(data_dir=tmp_path / "data", port=free_port())
    farm = Farm.open(settings)
    with NpmRegistryServer({V: tarball}, corrupt=True) as npm:
        registry = NpmRegistry(npm.url)
        with pytest.raises(UpstreamIntegrityError, match=r"integrity mismatch.*nothing was installed"):
            farm.runtimes.add(V, registry)
        registry.close()
    assert not farm.runtimes.is_installed(V)
    assert farm.runtimes.installed() == []
    assert not (settings.www_dir / "pyodide" / V).exists()
    assert list((settings.www_dir / "pyodide").iterdir()) == []
    assert [p for p in settings.blob_dir.rglob("*") if p.is_file()] == []
    farm.close()
    with serve_thread(settings) as url:
        assert httpx.get(url + f"pyodide/{V}/pyodide.asm.wasm").status_code == 404


def test_a_runtime_whose_lock_contradicts_the_table_describes_itself(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A pyodide@0.29.5 whose lock has 314's facts: not the table's for 0.29; the lock wins."""
    from farm.runtime.target import target_for

    settings = Settings(data_dir=tmp_path / "data", port=free_port())
    farm = Farm.open(settings)
    tarball = pyodide_tarball(tmp_path / "npm", "0.29.5", INFO_314)
    with NpmRegistryServer({"0.29.5": tarball}) as npm:
        registry = NpmRegistry(npm.url)
        farm.runtimes.add("0.29.5", registry)
        registry.close()
    assert (
        "pyodide@0.29.5: its lock says python '3.14.2' (table: '3.13.2'), abi '2026_0' (table: '2025_0')"
        in (caplog.text)
    )
    assert (target_for("0.29.5").abi, target_for("0.29.5").python) == ("2026_0", "3.14.2")
    assert [r.version for r in farm.runtimes.installed()] == ["0.29.5"]
    farm.close()
    reopened = Settings(data_dir=tmp_path / "data", runtimes=["0.29.5"], port=free_port())  # a later process
    assert str(reopened.targets[0].tags[0]) == "cp314-cp314-pyemscripten_2026_0_wasm32"


def test_lock_is_served_with_an_etag(runtime: Runtime) -> None:
    url = runtime.url + f"pyodide/{V}/pyodide-lock.json"
    first = httpx.get(url)
    again = httpx.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert "immutable" not in first.headers["cache-control"]


def test_runtime_list_and_remove(runtime: Runtime, tmp_path: Path) -> None:
    from index_server.cli import cli

    data = shutil.copytree(runtime.settings.data_dir, tmp_path / "copy", symlinks=True)
    listed = CliRunner().invoke(cli, ["--data-dir", str(data), "runtime", "list"])
    assert listed.exit_code == 0 and listed.stdout.startswith(f"{V}\tPython 3.14.2\tABI 2026_0")
    removed = CliRunner().invoke(cli, ["--data-dir", str(data), "runtime", "remove", V])
    assert removed.exit_code == 0, removed.output
    assert not (data / "www" / "pyodide" / V).exists()
    again = CliRunner().invoke(cli, ["--data-dir", str(data), "runtime", "remove", V])
    assert again.exit_code == 1 and "not installed" in again.output


INFO_315 = {"abi_version": "2027_0", "platform": "emscripten_6_0_0", "python": "3.15.0", "arch": "wasm32"}
FAST_315 = "fast-1.0-cp315-cp315-pyemscripten_2027_0_wasm32.whl"


def test_a_release_series_wasmfarm_has_never_heard_of(tmp_path: Path) -> None:
    """pyodide@315.0.0 (Python 3.15, ABI 2027_0, Emscripten 6.0.0) is in no table: its own lock says what it is, and
    every process (this one, the CLI, another Python) builds the same target from what `runtime add` recorded."""
    from farm.runtime.target import TARGETS
    from index_server.cli import cli

    upstream_dir = tmp_path / "upstream"
    make_wheel(upstream_dir, "micropip", "0.11.1")
    make_wheel(upstream_dir, "fast", "1.0", tag="cp315-cp315-pyemscripten_2027_0_wasm32")
    make_wheel(
        upstream_dir, "fast", "1.1", tag="cp314-cp314-pyemscripten_2026_0_wasm32"
    )  # newer, not for 315
    other = make_wheel(tmp_path / "uploads", "fast", "1.0", tag="cp314-cp314-pyemscripten_2026_0_wasm32")
    micropip = {"name": "micropip", "version": "0.11.1", "depends": [], "file_name": "x.whl"}
    tarball = pyodide_tarball(
        tmp_path / "npm", "315.0.0", {**INFO_315, "version": "315.0.0"}, {"micropip": micropip}
    )
    data = tmp_path / "data"
    with UpstreamServer(upstream_dir) as upstream, NpmRegistryServer({"315.0.0": tarball}) as npm:
        env = {"WASMFARM_NPM_REGISTRY": npm.url, "WASMFARM_UPSTREAM_INDEX": upstream.url}
        added = CliRunner().invoke(cli, ["--data-dir", str(data), "runtime", "add", "315.0.0"], env=env)
        assert added.exit_code == 0, added.output
        assert f"wasmfarm: data directory {data} (from --data-dir)" in added.stderr
        assert "essential wheels: 1 downloaded" in added.stderr  # micropip, for the new runtime's tags
        TARGETS.use([])  # what another process starts with: nothing but the table
        listed = CliRunner().invoke(cli, ["--data-dir", str(data), "runtime", "list"], env=env)
        assert listed.stdout.startswith("315.0.0\tPython 3.15.0\tABI 2027_0\temscripten_6_0_0\t"), (
            listed.output
        )
        mirrored = CliRunner().invoke(
            cli, ["mirror", "--runtime", "315.0.0", "fast"], env={**env, "WASMFARM_DATA_DIR": str(data)}
        )
        assert mirrored.exit_code == 0, mirrored.output
        assert f"wasmfarm: data directory {data} (from WASMFARM_DATA_DIR)" in mirrored.stderr
    TARGETS.use([])
    settings = Settings(data_dir=data, runtimes=["315.0.0"], port=free_port())
    [target] = settings.targets
    assert [str(t) for t in target.tags[:3]] == [
        "cp315-cp315-pyemscripten_2027_0_wasm32",
        "cp315-cp315-pyodide_2027_0_wasm32",
        "cp315-cp315-emscripten_6_0_0_wasm32",
    ]
    elsewhere = subprocess.run(  # a worker or a server: a process of its own, reading the same data directory
        [
            sys.executable,
            "-c",
            "import sys; from farm.settings import Settings\n"
            "s = Settings(data_dir=sys.argv[1], runtimes=['315.0.0'])\n"
            "print(s.targets[0])",
            str(data),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert elsewhere.stdout.strip() == repr(target)
    farm = Farm.open(settings)
    with farm.blobs.writer() as writer:  # an upload for 314: in the index, not in the 315 view
        writer.write(other.read_bytes())
        farm.ingestor.ingest(writer, other.name, "uploaded")
    farm.publisher.refresh_stale()
    farm.close()
    json_page = {"Accept": "application/vnd.pypi.simple.v1+json"}
    with serve_thread(settings) as url:
        everything = httpx.get(url + "simple/fast/", headers=json_page).json()
        assert {f["filename"] for f in everything["files"]} == {FAST_315, other.name}
        view = httpx.get(url + "r/315.0.0/simple/fast/", headers=json_page).json()
        assert [f["filename"] for f in view["files"]] == [FAST_315]
        lock = httpx.get(url + "pyodide/315.0.0/pyodide-lock.json").json()
        assert lock["info"]["abi_version"] == "2027_0"
        assert lock["packages"]["fast"]["file_name"] == FAST_315
        assert set(lock["packages"]) == {"fast", "micropip"}
        assert httpx.get(url + "pyodide/315.0.0/pyodide.mjs").status_code == 200
    TARGETS.use([])
    with pytest.raises(UnknownRuntime, match=r"'315\.0\.0'.*`wasmfarm runtime add 315\.0\.0`"):
        Settings(
            data_dir=tmp_path / "elsewhere", runtimes=["315.0.0"]
        )  # not installed there: not known there


@pytest.mark.parametrize(
    ("lock", "complaint"),
    [
        (
            {"info": {**INFO_315, "abi_version": "2027-0"}, "packages": {}},
            "abi_version '2027-0' is not a PEP 783 ABI",
        ),
        (
            {"info": {**INFO_315, "platform": "emscripten_6"}, "packages": {}},
            "platform 'emscripten_6' is not",
        ),
        ({"info": {**INFO_315, "python": ["3.15"]}, "packages": {}}, "python ['3.15'] is not a Python 3"),
        ({"info": "315", "packages": {}}, "has no info object"),
        ({"info": INFO_315, "packages": []}, "has no packages object"),
        (["not", "an", "object"], "not a JSON object"),
    ],
)
def test_a_runtime_whose_lock_info_is_unusable_is_refused(
    tmp_path: Path, lock: object, complaint: str
) -> None:
    from index_server.cli import cli

    tarball = pyodide_tarball(tmp_path / "npm", "315.0.0", None, lock=lock)
    data = tmp_path / "data"
    with NpmRegistryServer({"315.0.0": tarball}) as npm:
        added = CliRunner().invoke(
            cli,
            ["--data-dir", str(data), "runtime", "add", "315.0.0"],
            env={"WASMFARM_NPM_REGISTRY": npm.url},
        )
    assert added.exit_code == 1, added.output
    assert "error: pyodide@315.0.0: its pyodide-lock.json" in added.stderr and complaint in added.stderr
    assert "Traceback" not in added.output
    assert (
        not (data / "www" / "pyodide" / "315.0.0").exists() and not (data / "runtimes" / "315.0.0").exists()
    )
    assert list((data / "www" / "pyodide").iterdir()) == []  # no staging directory left behind


def test_the_own_lock_reads_its_roots_and_their_dependencies_not_the_mirrored_catalog(tmp_path: Path) -> None:
    """With runtime_lock = own, building the lock reads the rows of the runtime's packages, of what is built or
    uploaded, and of their dependencies: 200 more mirrored projects change neither the lock nor what is read (every
    project whose rows were read has an entry in ``choices``)."""
    wheels = tmp_path / "wheels"
    for name in ("micropip-0.11.1-py3-none-any.whl", "packaging-26.1-py3-none-any.whl"):
        shutil.copy(CACHE / "wheels" / name, wheels.mkdir(exist_ok=True) or wheels)
    make_wheel(wheels, "helper", "1.0")
    uploaded = make_wheel(tmp_path / "uploads", "inhouse", "1.0", requires=["helper"])
    with NpmRegistryServer({V: CACHE / "npm" / f"pyodide-{V}.tgz"}) as npm:
        settings = Settings(
            data_dir=tmp_path / "data", port=free_port(), npm_registry=npm.url, runtime_lock="own"
        )
        farm = Farm.open(settings)
        try:
            install_runtime(farm, V)

            def ingest(path: Path, origin: str) -> None:
                with farm.blobs.writer() as writer:
                    writer.write(path.read_bytes())
                    farm.ingestor.ingest(writer, path.name, origin)

            for path in sorted(wheels.glob("*.whl")):
                ingest(path, "mirrored")
            ingest(uploaded, "uploaded")
            before = farm.locks.build(V)
            for i in range(200):
                ingest(make_wheel(tmp_path / "many", f"pure{i:03d}", "1.0"), "mirrored")
            after = farm.locks.build(V)
        finally:
            farm.close()
    assert set(before.lock["packages"]) == {"micropip", "packaging", "inhouse", "helper"}
    assert after.lock == before.lock
    assert set(after.choices) == set(before.choices)
    assert not [name for name in after.choices if name.startswith("pure")]
