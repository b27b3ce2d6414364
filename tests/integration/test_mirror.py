"""``wasmfarm mirror`` against a real HTTP server playing the upstream index, with real wheels."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from sqlalchemy import event

from farm.context import Farm
from farm.errors import ResolutionImpossible
from farm.mirror.mirror import Mirror, MirrorReport, Progress
from farm.mirror.upstream import UpstreamIndex
from farm.settings import Settings
from tests.support.server import wasmfarm_command
from tests.support.upstream import UpstreamServer, listed_entry
from tests.support.wheels import make_wheel

WASM_313 = "cp313-cp313-pyemscripten_2025_0_wasm32"


@pytest.fixture
def upstream_dir(tmp_path: Path, cached_wheels: Path) -> Path:
    root = tmp_path / "upstream"
    make_wheel(
        root, "app", "1.0", requires=["lib>=1", 'winonly; sys_platform == "win32"', 'extra-dep; extra == "x"']
    )
    make_wheel(root, "lib", "1.0", requires=["base"])
    make_wheel(
        root, "lib", "2.0", tag=WASM_313, requires=["base"]
    )  # not installable on 314: lib 1.0 is chosen
    make_wheel(root, "base", "0.9")
    make_wheel(root, "base", "1.0", requires_python=">=3.15")  # excluded by Requires-Python
    make_wheel(root, "winonly", "1.0")
    make_wheel(root, "extra-dep", "1.0")
    make_wheel(root, "demo", "1.0")
    make_wheel(root, "demo", "1.0", tag=WASM_313)
    make_wheel(root, "demo", "1.0", tag="cp314-cp314-manylinux_2_17_x86_64")
    (root / "demo-1.0.tar.gz").write_bytes(b"not mirrored")
    make_wheel(root, "wasm313only", "0.1", tag=WASM_313)
    (root / "srconly-0.1.tar.gz").write_bytes(b"an sdist")
    make_wheel(root, "needs-src", "1.0", requires=["srconly"])
    shutil.copy(next(cached_wheels.glob("msgpack-*.whl")), root)
    return root


@pytest.fixture
def upstream(upstream_dir: Path) -> Iterator[UpstreamServer]:
    with UpstreamServer(upstream_dir) as server:
        yield server


def mirror(farm: Farm, upstream: UpstreamServer, reqs: list[str], closure: bool):
    index = UpstreamIndex(upstream.url)
    try:
        job = Mirror(farm, index, farm.settings.targets)
        requirements = [Requirement(r) for r in reqs]
        planned = (
            job.plan_closure(requirements) if closure else job.plan_projects(requirements, all_versions=False)
        )
        return job.run(planned, Progress())
    finally:
        index.close()


def names(farm: Farm) -> set[str]:
    return {f.filename for p in farm.catalog.all_projects() for f in farm.catalog.project_files(p.id or 0)}


def test_runtime_filtering(farm: Farm, upstream: UpstreamServer) -> None:
    report = mirror(farm, upstream, ["demo", "msgpack"], closure=False)
    assert report.errors == []
    assert names(farm) == {
        "demo-1.0-py3-none-any.whl",
        "msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
    }
    page = (farm.settings.www_dir / "r" / "314.0.7" / "simple" / "msgpack" / "index.json").read_text()
    assert "pyemscripten_2026_0" in page


def test_closure_incremental_and_yanks(farm: Farm, upstream: UpstreamServer) -> None:
    report = mirror(farm, upstream, ["app"], closure=True)
    assert report.errors == []
    assert names(farm) == {
        "app-1.0-py3-none-any.whl",
        "lib-1.0-py3-none-any.whl",
        "base-0.9-py3-none-any.whl",
    }
    assert report.downloaded == 3
    assert not any(".metadata" in p for p in upstream.state.file_requests())

    before = len(upstream.state.file_requests())
    upstream.state.yanked["lib-1.0-py3-none-any.whl"] = "security issue"
    with pytest.raises(
        ResolutionImpossible, match=r"lib>=1 \(required by app==1.0\): every matching version is yanked"
    ):
        mirror(farm, upstream, ["app"], closure=True)
    again = mirror(farm, upstream, ["app", "lib==1.0"], closure=True)  # a pin still selects a yanked file
    assert len(upstream.state.file_requests()) == before  # nothing downloaded the second time
    assert (again.downloaded, again.present, again.yanks_updated) == (0, 3, 1)
    page = (farm.settings.www_dir / "simple" / "lib" / "index.json").read_text()
    assert '"yanked":"security issue"' in page


def test_html_upstream_without_metadata(farm: Farm, upstream: UpstreamServer) -> None:
    upstream.state.html_only = True
    upstream.state.serve_metadata = False
    report = mirror(farm, upstream, ["app"], closure=True)
    assert report.errors == [] and report.downloaded == 0 and report.reused == 3  # fetched once, for metadata
    assert len(names(farm)) == 3
    assert len(upstream.state.file_requests()) == 3


def test_hash_mismatch_is_refused_and_nothing_published(farm: Farm, upstream: UpstreamServer) -> None:
    upstream.state.wrong_hash.add("demo-1.0-py3-none-any.whl")
    report = mirror(farm, upstream, ["demo"], closure=False)
    assert len(report.errors) == 1
    assert "sha256 mismatch" in report.errors[0] and "demo-1.0-py3-none-any.whl" in report.errors[0]
    assert "nothing was stored" in report.errors[0]
    assert names(farm) == set()
    assert [p for p in farm.blobs.root.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    ("requirements", "explanation"),
    [
        (
            ["wasm313only"],
            "wasm313only (requested directly): no file for this runtime's tags: no sdist, only wheels for "
            "pyemscripten_2025_0_wasm32 (Pyodide 314.0.7 installs pyemscripten_2026_0_wasm32, abi3 and py3-none-any "
            "wheels)",
        ),
        (
            ["needs-src"],
            "srconly (required by needs-src==1.0): only an sdist for this runtime, no wheel with its tags",
        ),
        (
            ["lib>=2"],
            "lib>=2 (requested directly): no installable version matches >=2 (installable: 1.0); 2.0: no file for "
            "this runtime's tags",
        ),
        (["nonexistent"], "nonexistent (requested directly): the upstream index has no such project"),
    ],
)
def test_unsatisfiable_closure_explains(
    farm: Farm, upstream: UpstreamServer, requirements: list[str], explanation: str
) -> None:
    with pytest.raises(ResolutionImpossible) as info:
        mirror(farm, upstream, requirements, closure=True)
    assert "cannot resolve the requirements for Pyodide 314.0.7" in str(info.value)
    assert explanation in str(info.value)
    assert names(farm) == set()


def test_cli_mirror_hash_mismatch_exit_code(settings: Settings, upstream: UpstreamServer) -> None:
    upstream.state.wrong_hash.add("demo-1.0-py3-none-any.whl")
    env = {
        **os.environ,
        "WASMFARM_DATA_DIR": str(settings.data_dir),
        "WASMFARM_DATABASE_URL": settings.resolved_database_url,
    }
    result = subprocess.run(
        [*wasmfarm_command(), "mirror", "--upstream", upstream.url, "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "sha256 mismatch" in result.stderr and "1 failed" in result.stderr


def test_cli_requirements_file_errors_name_the_line(
    settings: Settings, upstream: UpstreamServer, tmp_path: Path
) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("app\nnot a requirement!!\n--extra-index-url x\n")
    env = {
        **os.environ,
        "WASMFARM_DATA_DIR": str(settings.data_dir),
        "WASMFARM_DATABASE_URL": settings.resolved_database_url,
    }
    result = subprocess.run(
        [*wasmfarm_command(), "mirror", "--upstream", upstream.url, "-r", str(reqs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert f"{reqs}:2: 'not a requirement!!' is not a PEP 508 requirement" in result.stderr
    assert f"{reqs}:3: option '--extra-index-url'" in result.stderr


def test_kill_9_and_resume(settings: Settings, upstream: UpstreamServer, upstream_dir: Path) -> None:
    """kill -9 mid-mirror: what was published is complete, nothing partial is visible, a re-run completes."""
    for i in range(6):
        make_wheel(upstream_dir, f"slow{i}", "1.0", padding=200_000)
    upstream.state.delay = 0.4
    env = {
        **os.environ,
        "WASMFARM_DATA_DIR": str(settings.data_dir),
        "WASMFARM_DATABASE_URL": settings.resolved_database_url,
        "WASMFARM_MIRROR_CONCURRENCY": "1",
    }
    command = [*wasmfarm_command(), "mirror", "--upstream", upstream.url, *[f"slow{i}" for i in range(6)]]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    farm = Farm.open(settings)
    try:
        deadline = time.monotonic() + 60
        while len(names(farm)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # now in the middle of a download (each takes >= 0.4 s)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        published = names(farm)
        assert 2 <= len(published) < 6
        for filename in published:  # everything visible is complete and correct
            row = farm.catalog.file(filename)
            assert row is not None
            assert farm.blobs.path_for(row.sha256).stat().st_size == row.size
        requests_before = len(upstream.state.file_requests())

        upstream.state.delay = 0
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert names(farm) == {f"slow{i}-1.0-py3-none-any.whl" for i in range(6)}
        fetched_again = upstream.state.file_requests()[requests_before:]
        assert not any(name.rsplit("/", 1)[-1] in published for name in fetched_again)
        assert len(fetched_again) == 6 - len(published)
        assert (
            list((farm.blobs.root / ".tmp").glob("*.part")) == []
        )  # the killed run's partial file was swept
        page = (settings.www_dir / "simple" / "slow5" / "index.html").read_text()
        assert "slow5-1.0-py3-none-any.whl" in page
    finally:
        farm.close()


def test_pre_releases_only_when_asked_for_or_nothing_else_matches(tmp_path: Path, farm: Farm) -> None:
    """``httpx`` used to mirror ``httpx 1.0.dev6`` where pip picks 0.28.1 (PEP 440: pre-releases only when a
    specifier names one, or when no final release matches); the same in the mirror's closure and server-side
    locking, which resolve with the same provider."""
    from farm.mirror.resolver import resolve
    from farm.runtime.locking import CatalogSource
    from farm.runtime.target import target_for

    root = tmp_path / "pre-upstream"
    make_wheel(root, "prerel", "0.28.1")
    make_wheel(root, "prerel", "1.0.dev6")
    make_wheel(root, "onlypre", "2.0b1")
    make_wheel(root, "uses", "1.0", requires=["prerel"])
    with UpstreamServer(root) as server:
        mirror(farm, server, ["prerel"], closure=False)
        assert names(farm) == {"prerel-0.28.1-py3-none-any.whl"}
        mirror(farm, server, ["uses"], closure=True)
        assert "prerel-1.0.dev6-py3-none-any.whl" not in names(farm)
        mirror(farm, server, ["prerel>=1.0.dev1", "onlypre"], closure=False)  # named, or nothing else matches
        assert {"prerel-1.0.dev6-py3-none-any.whl", "onlypre-2.0b1-py3-none-any.whl"} <= names(farm)

    source = CatalogSource(farm.catalog.wheels())
    target = target_for(farm.settings.runtimes[0])
    [chosen] = resolve([Requirement("prerel")], source, target, source.requires_dist)
    assert str(chosen.version) == "0.28.1"
    [chosen] = resolve([Requirement("prerel>=1.0.dev1")], source, target, source.requires_dist)
    assert str(chosen.version) == "1.0.dev6"


def test_mirrored_files_keep_upstreams_upload_time(tmp_path: Path, farm: Farm) -> None:
    """``uv --exclude-newer`` reads PEP 700's upload-time: it must be upstream's, not when the mirror stored it."""
    import json
    from datetime import UTC, datetime

    root = tmp_path / "timed-upstream"
    wheel = make_wheel(root, "timed", "1.0")
    uploaded = datetime(2026, 3, 19, 10, 2, 3, 250000, tzinfo=UTC)
    os.utime(wheel, (uploaded.timestamp(), uploaded.timestamp()))
    with UpstreamServer(root) as server:
        mirror(farm, server, ["timed"], closure=False)
    [row] = [f for p in farm.catalog.all_projects() for f in farm.catalog.project_files(p.id or 0)]
    assert row.upload_time.replace(tzinfo=UTC) == uploaded
    page = json.loads((farm.settings.www_dir / "simple" / "timed" / "index.json").read_text())
    assert page["files"][0]["upload-time"].startswith("2026-03-19T10:02:03")


def test_cli_mirror_by_name_takes_the_closure_unless_no_deps(
    settings: Settings, upstream: UpstreamServer
) -> None:
    """``mirror rich`` used to give a project the editor could not install (markdown-it-py missing)."""
    env = {
        **os.environ,
        "WASMFARM_DATA_DIR": str(settings.data_dir),
        "WASMFARM_DATABASE_URL": settings.resolved_database_url,
    }
    command = [*wasmfarm_command(), "mirror", "--upstream", upstream.url]
    alone = subprocess.run(
        [*command, "--no-deps", "app"], env=env, capture_output=True, text=True, timeout=120
    )
    assert alone.returncode == 0, alone.stderr
    farm = Farm.open(settings)
    assert names(farm) == {"app-1.0-py3-none-any.whl"}
    closure = subprocess.run(
        [*command, "app", "srconly"], env=env, capture_output=True, text=True, timeout=120
    )
    assert closure.returncode == 1  # srconly selects nothing: said, and the exit status says so
    assert names(farm) == {
        "app-1.0-py3-none-any.whl",
        "lib-1.0-py3-none-any.whl",
        "base-0.9-py3-none-any.whl",
    }
    assert "nothing selected for srconly on Pyodide 314.0.7: only an sdist" in closure.stderr
    farm.close()


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli(settings: Settings, upstream: UpstreamServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "WASMFARM_DATA_DIR": str(settings.data_dir),
        "WASMFARM_DATABASE_URL": settings.resolved_database_url,
    }
    return subprocess.run(
        [*wasmfarm_command(), "mirror", "--upstream", upstream.url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_hashed_requirements_files_as_pip_compile_writes_them(
    tmp_path: Path, settings: Settings, upstream: UpstreamServer, upstream_dir: Path
) -> None:
    app, lib, base = (
        upstream_dir / n
        for n in ("app-1.0-py3-none-any.whl", "lib-1.0-py3-none-any.whl", "base-0.9-py3-none-any.whl")
    )
    compiled = tmp_path / "requirements.txt"
    compiled.write_text(
        "# via pip-compile --generate-hashes\n"
        f"app==1.0 \\\n    --hash=sha256:{_sha(app)} \\\n    --hash=sha256:{'0' * 64}\n"
        f"lib==1.0 \\\n    --hash=sha256:{_sha(lib)}\n    # via app\n"
        f"base==0.9 --hash=sha256:{_sha(base)}\n"
    )
    result = _cli(settings, upstream, "-r", str(compiled))
    assert result.returncode == 0, result.stderr
    farm = Farm.open(settings)
    assert names(farm) == {app.name, lib.name, base.name}

    partial = tmp_path / "partial.txt"  # pip's hash-checking mode: every project of the closure needs a hash
    partial.write_text(f"app==1.0 --hash=sha256:{_sha(app)}\n")
    refused = _cli(settings, upstream, "-r", str(partial))
    assert refused.returncode == 1
    assert "hash-checking mode" in refused.stderr and "no --hash for lib" in refused.stderr

    wrong = tmp_path / "wrong.txt"
    wrong.write_text(f"demo==1.0 --hash=sha256:{'1' * 64}\n")
    mismatch = _cli(settings, upstream, "-r", str(wrong))
    assert (
        mismatch.returncode == 1
        and "no file of demo" in mismatch.stderr
        and "has a sha256" in mismatch.stderr
    )
    assert "demo-1.0-py3-none-any.whl" not in names(farm)

    bad = tmp_path / "bad.txt"
    bad.write_text("attrs==1 --hash=md5:abc\nattrs==1 --no-binary :all:\n")
    invalid = _cli(settings, upstream, "-r", str(bad))
    assert invalid.returncode != 0
    assert f"{bad}:1: --hash=md5:abc is not a sha256 hash" in invalid.stderr
    assert f"{bad}:2: option '--no-binary' is not supported after a requirement" in invalid.stderr
    farm.close()


def test_direct_references_are_fetched_and_verified_or_refused_with_the_reason(
    tmp_path: Path, settings: Settings, upstream: UpstreamServer, upstream_dir: Path
) -> None:
    wheel = upstream_dir / "extra_dep-1.0-py3-none-any.whl"
    url = f"{upstream.url.rsplit('/simple', 1)[0]}/files/{wheel.name}"
    ok = tmp_path / "direct.txt"
    ok.write_text(f"extra-dep @ {url}#sha256={_sha(wheel)}\n")
    result = _cli(settings, upstream, "-r", str(ok))
    assert result.returncode == 0, result.stderr
    farm = Farm.open(settings)
    [row] = [f for f in farm.catalog.wheels() if f.filename == wheel.name]
    assert row.upstream_url == url and row.sha256 == _sha(wheel)
    farm.close()

    refusals = tmp_path / "refused.txt"
    refusals.write_text(
        f"extra-dep @ {url}\n"
        "srconly @ https://example.invalid/srconly-0.1.tar.gz#sha256=" + "2" * 64 + "\n"
        "demo @ git+https://example.invalid/demo.git\n"
        f"winonly @ {url}#sha256={_sha(wheel)}\n"
    )
    refused = _cli(settings, upstream, "-r", str(refusals))
    assert refused.returncode != 0
    for expected in (
        f"{refusals}:1: extra-dep @ {url}: a direct reference needs exactly one sha256",
        f"{refusals}:2: srconly @ https://example.invalid/srconly-0.1.tar.gz#sha256={'2' * 64}: 'srconly-0.1.tar.gz' is not a wheel",
        f"{refusals}:3: demo @ git+https://example.invalid/demo.git: a VCS reference cannot be mirrored",
        f"{refusals}:4: winonly @ {url}#sha256={_sha(wheel)}: extra_dep-1.0-py3-none-any.whl is a wheel of extra-dep, not of winonly",
    ):
        assert expected in refused.stderr, refused.stderr


@contextmanager
def statements(farm: Farm) -> Iterator[list[str]]:
    """Every SQL statement the farm's engine sends meanwhile (SQLAlchemy's ``before_cursor_execute``)."""
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    event.listen(farm.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(farm.engine, "before_cursor_execute", record)


def test_a_no_op_re_mirror_asks_the_database_as_often_at_any_upstream_size(
    tmp_path: Path, farm: Farm
) -> None:
    """Issue 15: a re-mirror with nothing new sent one query per file upstream lists (15,058 for pydantic-core).
    Now the same few statements at 50 and at 500 listed files, none of them a write, and no page rewritten; a yank
    flipped upstream is still carried, in one transaction."""
    root = tmp_path / "wide-upstream"
    sizes = {"narrow": 50, "wide": 500}
    with UpstreamServer(root) as server:
        for project, size in sizes.items():
            make_wheel(root, project, "2.0")
            make_wheel(root, project, "1.0")  # stored too (--all-versions): its yank state is carried below
            server.state.listed[project] = [
                listed_entry(f"{project}-0.{i}-cp314-cp314-manylinux_2_17_x86_64.whl")
                for i in range(size - 2)
            ]
            server.state.yanked[f"{project}-0.1-cp314-cp314-manylinux_2_17_x86_64.whl"] = (
                "listed, never stored"
            )
        for project in sizes:
            first = mirror_all_versions(farm, server, [project])
            assert (first.downloaded, first.errors) == (2, [])
        # Every file of the page tree but the render lock, which its holder writes its name into (render_lock.py).
        pages = sorted(
            p for p in farm.settings.www_dir.rglob("*") if p.is_file() and p.name != ".render.lock"
        )
        written = {p: p.stat().st_mtime_ns for p in pages}

        counts = {}
        for project, size in sizes.items():
            with statements(farm) as sent:
                again = mirror_all_versions(farm, server, [project])
            assert (again.downloaded, again.present, again.yanks_updated, again.errors) == (0, 2, 0, [])
            assert not [s for s in sent if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))], (
                sent
            )
            counts[size] = len(sent)
        assert counts[50] == counts[500] <= 3, counts  # the stored files of the project; the stale pages
        assert (
            sorted(p for p in farm.settings.www_dir.rglob("*") if p.is_file() and p.name != ".render.lock")
            == pages
        )
        assert {p: p.stat().st_mtime_ns for p in pages} == written  # nothing re-rendered, not even rewritten

        server.state.yanked["wide-1.0-py3-none-any.whl"] = "broken"
        flipped = mirror_all_versions(farm, server, ["wide"])
        assert (flipped.downloaded, flipped.yanks_updated, flipped.errors) == (0, 1, [])
        assert farm.catalog.stored_files(["wide"])["wide-1.0-py3-none-any.whl"].yanked_reason == "broken"
        page = json.loads((farm.settings.www_dir / "simple" / "wide" / "index.json").read_text())
        assert {f["filename"]: f.get("yanked") for f in page["files"]} == {
            "wide-1.0-py3-none-any.whl": "broken",
            "wide-2.0-py3-none-any.whl": False,
        }
        del server.state.yanked["wide-1.0-py3-none-any.whl"]  # and un-yanked
        assert mirror_all_versions(farm, server, ["wide"]).yanks_updated == 1
        assert not farm.catalog.stored_files(["wide"])["wide-1.0-py3-none-any.whl"].yanked


def test_a_re_mirror_takes_the_dependencies_of_stored_files_from_the_catalog(
    farm: Farm, upstream: UpstreamServer
) -> None:
    """Resolving the closure again asks upstream for its pages only, not for each candidate's metadata file: over a
    network that is one round trip per project of the closure saved on every run."""
    first = mirror(farm, upstream, ["app"], closure=True)
    assert first.downloaded == 3
    assert [p for _, p in upstream.state.requests if p.endswith(".metadata")]  # the first time, from upstream
    before = len(upstream.state.requests)
    again = mirror(farm, upstream, ["app"], closure=True)
    assert (again.downloaded, again.present, again.errors) == (0, 3, [])
    assert [p for _, p in upstream.state.requests[before:] if not p.startswith("/simple/")] == []


def mirror_all_versions(farm: Farm, upstream: UpstreamServer, reqs: list[str]) -> MirrorReport:
    index = UpstreamIndex(upstream.url)
    try:
        job = Mirror(farm, index, farm.settings.targets)
        return job.run(job.plan_projects([Requirement(r) for r in reqs], all_versions=True), Progress())
    finally:
        index.close()
