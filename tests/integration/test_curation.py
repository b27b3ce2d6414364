"""Yank, un-yank and delete over HTTP and from the command line, with the audit trail, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from packaging.requirements import Requirement
from sqlmodel import SQLModel

from farm.audit.trail import Actor, AuditTrail
from farm.cli.main import cli
from farm.context import Farm
from farm.curation.curator import curator_for
from farm.errors import ResolutionImpossible
from farm.fsck.check import Kind, run_checks
from farm.mirror.mirror import Mirror, Progress
from farm.mirror.upstream import UpstreamIndex
from farm.runtime.install import install_runtime
from farm.runtime.locking import lock_requirements
from farm.settings import Settings
from farm.store.models import Origin, TokenScope
from tests.conftest import CACHE, PYODIDE_VERSION
from tests.support.clients import upload
from tests.support.npm_registry import NpmRegistryServer
from tests.support.server import free_port, serve_thread
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel

JSON = "application/vnd.pypi.simple.v1+json"


@dataclass
class Site:
    url: str
    settings: Settings
    tokens: dict[
        str, str
    ]  # admin, owner (upload restricted to demo), other (restricted to other), upload, read, build


@pytest.fixture
def site(settings: Settings) -> Iterator[Site]:
    farm = Farm.open(settings)
    tokens = {
        "admin": farm.tokens.create(TokenScope.ADMIN).secret,
        "owner": farm.tokens.create(TokenScope.UPLOAD, projects=["demo"]).secret,
        "other": farm.tokens.create(TokenScope.UPLOAD, projects=["other"]).secret,
        "upload": farm.tokens.create(TokenScope.UPLOAD).secret,
        "read": farm.tokens.create(TokenScope.READ).secret,
        "build": farm.tokens.create(TokenScope.BUILD).secret,
    }
    farm.close()
    with serve_thread(settings) as url:
        yield Site(url, settings, tokens)


def post(site: Site, path: str, token: str | None, body: object = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    content = json.dumps(body).encode() if body is not None else b""
    return httpx.post(site.url + path, content=content, headers=headers, timeout=30)


def project_json(site: Site, name: str) -> httpx.Response:
    return httpx.get(site.url + f"simple/{name}/", headers={"Accept": JSON})


def test_owner_yanks_unyanks_and_deletes_and_the_pages_and_trail_follow(site: Site, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "demo", "1.0")
    newer = make_wheel(tmp_path, "demo", "1.1")
    for path in (wheel, newer):
        assert upload(site.url, path, site.tokens["owner"]).status_code == 200

    yanked = post(site, f"api/files/{wheel.name}/yank", site.tokens["owner"], {"reason": "broken <build>"})
    assert yanked.status_code == 200, yanked.text
    assert yanked.json()["changed"] == [wheel.name]
    files = {f["filename"]: f for f in project_json(site, "demo").json()["files"]}
    assert files[wheel.name]["yanked"] == "broken <build>" and files[newer.name]["yanked"] is False
    html = httpx.get(site.url + "simple/demo/", headers={"Accept": "text/html"}).text
    assert 'data-yanked="broken &lt;build&gt;"' in html
    again = post(site, f"api/files/{wheel.name}/yank", site.tokens["owner"], {"reason": "broken <build>"})
    assert again.status_code == 200 and again.json()["changed"] == []  # nothing to do, nothing recorded

    unyanked = post(site, f"api/files/{wheel.name}/unyank", site.tokens["owner"])
    assert unyanked.status_code == 200, unyanked.text
    assert all(f["yanked"] is False for f in project_json(site, "demo").json()["files"])

    release = post(site, "api/projects/Demo/1.1.0/yank", site.tokens["admin"], {"reason": "superseded"})
    assert release.status_code == 200, release.text
    assert release.json()["target"] == "demo 1.1.0" and release.json()["changed"] == [newer.name]

    farm = Farm.open(site.settings)
    try:
        row = farm.catalog.file(wheel.name)
        assert row is not None
        blob = farm.blobs.path_for(row.sha256)
        deleted = post(
            site, f"api/files/{wheel.name}/delete", site.tokens["owner"], {"reason": "leaked a key"}
        )
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["files"][0]["deleted"] is True
        assert farm.catalog.file(wheel.name) is None
        assert not blob.exists() and not farm.blobs.metadata_path_for(row.sha256).exists()
        assert [f["filename"] for f in project_json(site, "demo").json()["files"]] == [newer.name]
        assert (
            httpx.get(site.url + "files/" + row.sha256[:2] + "/" + row.sha256 + "/" + wheel.name).status_code
            == 404
        )
        report = run_checks(farm)
        assert report.sound and report.findings == [], report.findings

        gone = post(site, "api/projects/demo/1.1/delete", site.tokens["owner"])
        assert gone.status_code == 200, gone.text
        assert project_json(site, "demo").status_code == 404  # no files: no page, and not in the root list
        assert "demo" not in httpx.get(site.url + "simple/", headers={"Accept": JSON}).text
        assert run_checks(farm).findings == []

        entries = AuditTrail(farm.engine).entries(limit=20)
    finally:
        farm.close()
    actions = [(e.action, e.target) for e in reversed(entries)]
    assert actions == [
        ("upload", wheel.name),
        ("upload", newer.name),
        ("yank", wheel.name),
        ("unyank", wheel.name),
        ("yank", newer.name),
        ("delete", wheel.name),
        ("delete", newer.name),
    ]
    by_action = {(e.action, e.target): e for e in entries}
    assert by_action[("yank", wheel.name)].reason == "broken <build>"
    assert by_action[("delete", wheel.name)].detail["sha256"] == row.sha256
    assert by_action[("yank", newer.name)].actor.startswith("token 1 (")  # the admin token, created first
    assert all(e.client == "127.0.0.1" and e.token_id is not None for e in entries)
    assert not any(secret in repr(entries) for secret in site.tokens.values())


def test_who_may_do_what_and_hostile_requests(site: Site, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "demo", "1.0")
    assert upload(site.url, wheel, site.tokens["owner"]).status_code == 200
    path = f"api/files/{wheel.name}/yank"
    cases = [
        (None, 401, "needs a token of scope 'upload'"),
        ("wf_not-a-token", 401, "unknown or revoked"),
        (site.tokens["read"], 403, "has scope 'read'"),
        (site.tokens["build"], 403, "has scope 'build'"),
        (site.tokens["upload"], 403, "does not own project 'demo'"),
        (site.tokens["other"], 403, "does not own project 'demo'"),
    ]
    for token, status, message in cases:
        response = post(site, path, token)
        assert response.status_code == status, (token, response.text)
        assert message in response.json()["message"]

    admin = site.tokens["admin"]
    hostile = [
        ("api/files/not-a-wheel.zip/yank", None, 400, "invalid distribution filename"),
        ("api/files/demo-9.9-py3-none-any.whl/yank", None, 404, "is not on this index"),
        (f"api/files/{wheel.name}/destroy", None, 400, "POST one of: yank, unyank, delete"),
        ("api/projects/demo/not..a..version/yank", None, 400, "not a PEP 440 version"),
        ("api/projects/javascript:x/1.0/yank", None, 400, "not a valid project name"),
        ("api/projects/demo/2.0/yank", None, 404, "has no files of version 2.0"),
        ("api/projects/nothing/1.0/delete", None, 404, "is not on this index"),
        (path, {"reason": "a\nb"}, 400, "control character"),
        (path, {"reason": "x" * 501}, 400, "at most 500"),
        (path, {"reason": 5}, 400, "reason must be text"),
        (path, {"why": "x"}, 400, "unknown field(s) 'why'"),
        (path, ["reason"], 400, "must be a JSON object"),
    ]
    for where, body, status, message in hostile:
        response = post(site, where, admin, body)
        assert response.status_code == status, (where, response.text)
        assert message in response.json()["message"], response.text
    raw = httpx.post(site.url + path, content=b"{not json", headers={"Authorization": f"Bearer {admin}"})
    assert raw.status_code == 400 and "not JSON" in raw.json()["message"]
    deep = httpx.post(site.url + path, content=b"[" * 5000, headers={"Authorization": f"Bearer {admin}"})
    assert deep.status_code == 400
    assert post(site, f"api/files/{wheel.name}", admin).status_code == 404
    assert all(f["yanked"] is False for f in project_json(site, "demo").json()["files"])  # nothing happened


def test_mirrored_and_built_files_are_yanked_by_admins_only_and_never_deleted(
    site: Site, settings: Settings, tmp_path: Path
) -> None:
    farm = Farm.open(settings)
    try:
        for name, origin in (("demo", Origin.MIRRORED), ("demo-built", Origin.BUILT)):
            path = make_wheel(tmp_path, name, "1.0")
            with farm.blobs.writer() as writer:
                writer.write(path.read_bytes())
                farm.ingestor.ingest(writer, path.name, origin.value)
        farm.publisher.refresh(["demo", "demo-built"])
        mirrored, built = "demo-1.0-py3-none-any.whl", "demo_built-1.0-py3-none-any.whl"

        refused = post(site, f"api/files/{mirrored}/yank", site.tokens["owner"])
        assert refused.status_code == 403 and "only an admin token may yank it" in refused.json()["message"]
        for filename, origin in ((mirrored, "mirrored"), (built, "built")):
            response = post(site, f"api/files/{filename}/delete", site.tokens["admin"])
            assert response.status_code == 403 and f"was {origin}, not uploaded" in response.json()["message"]
            assert farm.catalog.file(filename) is not None

        local = post(
            site, f"api/files/{mirrored}/yank", site.tokens["admin"], {"reason": "crashes on import"}
        )
        assert local.status_code == 200, local.text
        # The mirror carries upstream's state (not yanked) over every file but this one, whose yank was made here.
        assert not farm.catalog.set_yanked(mirrored, False, None)
        row = farm.catalog.file(mirrored)
        assert row is not None and row.yanked and row.yank_local and row.yanked_reason == "crashes on import"
        undone = post(site, f"api/files/{mirrored}/unyank", site.tokens["admin"])
        assert undone.status_code == 200
        assert farm.catalog.set_yanked(mirrored, True, "upstream yanked it")  # back in the mirror's care
    finally:
        farm.close()


def test_command_line_yank_delete_and_audit(settings: Settings, tmp_path: Path) -> None:
    farm = Farm.open(settings)
    try:
        for version in ("1.0", "2.0"):
            path = make_wheel(tmp_path, "demo", version)
            with farm.blobs.writer() as writer:
                writer.write(path.read_bytes())
                farm.ingestor.ingest(writer, path.name, Origin.UPLOADED.value)
        farm.publisher.refresh(["demo"])
    finally:
        farm.close()
    env = {
        "WASMFARM_DATA_DIR": str(settings.data_dir),
        "WASMFARM_DATABASE_URL": settings.resolved_database_url,
    }
    runner = CliRunner()

    yanked = runner.invoke(cli, ["yank", "demo", "1.0", "--reason", "use 2.0"], env=env)
    assert yanked.exit_code == 0, yanked.output
    assert "demo-1.0-py3-none-any.whl\tuploaded\tyanked (use 2.0)" in yanked.stdout
    page = json.loads((settings.www_dir / "simple" / "demo" / "index.json").read_text())
    assert [f["yanked"] for f in page["files"]] == ["use 2.0", False]
    undone = runner.invoke(cli, ["yank", "demo-1.0-py3-none-any.whl", "--undo", "--json"], env=env)
    assert undone.exit_code == 0, undone.output
    assert json.loads(undone.stdout)["files"][0]["yanked"] is False

    deleted = runner.invoke(cli, ["delete", "demo-2.0-py3-none-any.whl", "--reason", "mistake"], env=env)
    assert deleted.exit_code == 0, deleted.output
    page = json.loads((settings.www_dir / "simple" / "demo" / "index.json").read_text())
    assert [f["filename"] for f in page["files"]] == ["demo-1.0-py3-none-any.whl"]
    missing = runner.invoke(cli, ["delete", "demo-2.0-py3-none-any.whl"], env=env)
    assert missing.exit_code == 1 and "is not on this index" in missing.output
    usage = runner.invoke(cli, ["yank", "demo", "1.0", "extra"], env=env)
    assert usage.exit_code == 2 and "a project and a version" in usage.output

    created = runner.invoke(cli, ["token", "create", "--scope", "admin"], env=env)
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    listed = runner.invoke(cli, ["audit", "--json", "--limit", "10"], env=env)
    assert listed.exit_code == 0, listed.output
    entries = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(e["action"], e["target"]) for e in entries] == [
        ("token-create", "token 1"),
        ("delete", "demo-2.0-py3-none-any.whl"),
        ("unyank", "demo-1.0-py3-none-any.whl"),
        ("yank", "demo-1.0-py3-none-any.whl"),
    ]
    assert all(e["actor"].startswith("cli:") and e["client"] is None for e in entries)
    assert entries[1]["reason"] == "mistake" and entries[0]["detail"]["scope"] == "admin"
    assert secret not in listed.stdout
    text = runner.invoke(cli, ["audit", "--limit", "1", "--action", "delete"], env=env)
    assert text.exit_code == 0 and text.stdout.count("\n") == 1 and "reason: mistake" in text.stdout
    assert runner.invoke(cli, ["audit", "--limit", "0"], env=env).exit_code == 2


def test_the_audit_table_matches_its_migration(farm: Farm) -> None:
    with farm.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert [d for d in differences if "audit_event" in repr(d) or "yank_local" in repr(d)] == []


def test_fsck_lists_a_blob_left_by_a_crash_between_row_and_blob(farm: Farm, tmp_path: Path) -> None:
    """The delete order (row, pages, blob): a crash before the blob goes leaves an orphan, never damage."""
    path = make_wheel(tmp_path, "demo", "1.0")
    with farm.blobs.writer() as writer:
        writer.write(path.read_bytes())
        row = farm.ingestor.ingest(writer, path.name, Origin.UPLOADED.value).row
    farm.publisher.refresh(["demo"])
    farm.catalog.delete_files([path.name])
    farm.publisher.refresh(["demo"])
    report = run_checks(farm)
    assert report.sound
    assert {f.kind for f in report.findings} == {Kind.ORPHAN}
    assert any(row.sha256 in f.subject for f in report.findings)


def test_runtime_and_server_side_locks_skip_yanked_files_unless_pinned(tmp_path: Path) -> None:
    """The runtime's pyodide-lock.json leaves a yanked wheel out and drops a deleted one (and its link); a server-side
    lock chooses a yanked file only when pinned with ==, as pip does."""
    upstream_dir = tmp_path / "upstream"
    upstream_dir.mkdir()
    for name in ("micropip-0.11.1-py3-none-any.whl", "packaging-26.1-py3-none-any.whl"):
        shutil.copy(CACHE / "wheels" / name, upstream_dir)
    with (
        UpstreamServer(upstream_dir) as upstream,
        NpmRegistryServer({PYODIDE_VERSION: CACHE / "npm" / f"pyodide-{PYODIDE_VERSION}.tgz"}) as npm,
    ):
        settings = Settings(
            data_dir=tmp_path / "data", port=free_port(), upstream_index=upstream.url, npm_registry=npm.url
        )
        farm = Farm.open(settings)
        try:
            install_runtime(farm, PYODIDE_VERSION)
            for version in ("1.0", "2.0"):
                path = make_wheel(tmp_path / "dist", "demo", version)
                with farm.blobs.writer() as writer:
                    writer.write(path.read_bytes())
                    farm.ingestor.ingest(writer, path.name, Origin.UPLOADED.value)
            farm.publisher.refresh(["demo"])
            lock_path = farm.runtimes.path(PYODIDE_VERSION) / "pyodide-lock.json"
            runtime_dir = farm.runtimes.path(PYODIDE_VERSION)

            def locked() -> str | None:
                entry = json.loads(lock_path.read_text())["packages"].get("demo")
                return None if entry is None else str(entry["version"])

            assert locked() == "2.0"
            curator = curator_for(farm)
            curator.yank(*curator.release("demo", "2.0"), Actor.command_line(), "broken")
            assert locked() == "1.0"
            assert not (runtime_dir / "demo-2.0-py3-none-any.whl").exists()
            chosen, _ = lock_requirements([Requirement("demo")], PYODIDE_VERSION, farm.locks)
            assert chosen["packages"]["demo"]["version"] == "1.0"
            pinned, _ = lock_requirements([Requirement("demo==2.0")], PYODIDE_VERSION, farm.locks)
            assert pinned["packages"]["demo"]["version"] == "2.0"

            curator.delete(*curator.file("demo-1.0-py3-none-any.whl"), Actor.command_line())
            assert locked() is None  # 2.0 is yanked, 1.0 is gone: nothing to lock
            assert not (runtime_dir / "demo-1.0-py3-none-any.whl").is_symlink()
            with pytest.raises(ResolutionImpossible):
                lock_requirements([Requirement("demo")], PYODIDE_VERSION, farm.locks)
            report = run_checks(farm)
            assert report.sound and [f for f in report.findings if f.kind is not Kind.ORPHAN] == []
        finally:
            farm.close()


def test_a_local_yank_of_a_mirrored_file_survives_mirror_runs_until_undone(
    farm: Farm, tmp_path: Path
) -> None:
    upstream_dir = tmp_path / "upstream"
    make_wheel(upstream_dir, "demo", "1.0")
    make_wheel(upstream_dir, "demo", "2.0")
    old, new = "demo-1.0-py3-none-any.whl", "demo-2.0-py3-none-any.whl"
    curator = curator_for(farm)

    def mirror(upstream: UpstreamServer) -> int:
        index = UpstreamIndex(upstream.url)
        try:
            job = Mirror(farm, index, farm.settings.targets)
            report = job.run(job.plan_projects([Requirement("demo")], all_versions=True), Progress())
        finally:
            index.close()
        assert report.errors == []
        return report.yanks_updated

    def yanks() -> dict[str, str | bool]:
        page = json.loads((farm.settings.www_dir / "simple" / "demo" / "index.json").read_text())
        return {f["filename"]: f["yanked"] for f in page["files"]}

    with UpstreamServer(upstream_dir) as upstream:
        mirror(upstream)
        curator.yank(*curator.file(new), Actor.command_line(), "crashes on import")
        upstream.state.yanked[old] = "upstream says so"
        assert (
            mirror(upstream) == 1
        )  # upstream's yank of 1.0 is carried; upstream's "not yanked" of 2.0 is not
        assert yanks() == {old: "upstream says so", new: "crashes on import"}
        curator.yank(*curator.file(new), Actor.command_line(), undo=True)
        upstream.state.yanked[new] = "upstream too"
        assert yanks()[new] is False
        assert mirror(upstream) == 1  # undone: the file is in the mirror's care again
        assert yanks() == {old: "upstream says so", new: "upstream too"}


def test_build_cancel_and_rebuild_by_an_admin_are_in_the_trail(site: Site) -> None:
    farm = Farm.open(site.settings)
    try:
        build = farm.builds.create("demo", "1.0", PYODIDE_VERSION, "0" * 64, "")
        headers = {"Authorization": f"Bearer {site.tokens['admin']}"}
        refused = httpx.post(
            site.url + f"builds/{build.id}/cancel",
            headers={"Authorization": f"Bearer {site.tokens['owner']}"},
        )
        assert refused.status_code == 403
        cancelled = httpx.post(site.url + f"builds/{build.id}/cancel", headers=headers)
        assert cancelled.status_code == 200 and cancelled.json()["cancelled"] is True, cancelled.text
        again = httpx.post(site.url + f"builds/{build.id}/rebuild", headers=headers)
        assert again.status_code == 202, again.text
        entries = [(e.action, e.target, e.detail) for e in reversed(AuditTrail(farm.engine).entries(limit=2))]
    finally:
        farm.close()
    assert entries == [
        ("build-cancel", f"build {build.id}", {}),
        ("build-rebuild", f"build {build.id}", {"new_build": again.json()["id"]}),
    ]
