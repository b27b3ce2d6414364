"""``wasmfarm fsck``: damage is found, mirrored files are mended from upstream, the rest is quarantined."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result
from packaging.requirements import Requirement

from farm.context import Farm
from farm.mirror.mirror import Mirror, Progress
from farm.mirror.upstream import UpstreamIndex
from farm.settings import Settings
from index_server.cli import cli
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel


def _fsck(settings: Settings, *args: str) -> tuple[Result, dict[str, object]]:
    env = {"WASMFARM_DATABASE_URL": settings.resolved_database_url}
    result = CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), "fsck", "--json", *args], env=env)
    return result, json.loads(result.stdout)


def _kinds(report: dict[str, object]) -> set[tuple[str, str]]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return {(f["kind"], Path(f["subject"]).name) for f in findings if not f["repaired"]}


def test_fsck_finds_damage_and_repair_mends_the_mirrored_files(
    tmp_path: Path, settings: Settings, farm: Farm
) -> None:
    upstream_dir = tmp_path / "upstream"
    make_wheel(upstream_dir, "alpha", "1.0", padding=50_000)
    make_wheel(upstream_dir, "gamma", "1.0")
    with UpstreamServer(upstream_dir) as server:
        index = UpstreamIndex(server.url)
        job = Mirror(farm, index, settings.targets)
        job.run(
            job.plan_projects([Requirement("alpha"), Requirement("gamma")], all_versions=False), Progress()
        )
        index.close()
        uploaded = make_wheel(tmp_path / "uploads", "beta", "1.0")
        with farm.blobs.writer() as writer:
            writer.write(uploaded.read_bytes())
            farm.ingestor.ingest(writer, uploaded.name, "uploaded")
        farm.publisher.refresh_stale()

        result, report = _fsck(settings)
        assert result.exit_code == 0 and report["sound"] and report["findings"] == [], result.output
        assert report["files_checked"] == 3 and report["pages_checked"] > 0

        rows = {f.filename: f for f in farm.catalog.wheels()}
        alpha = farm.blobs.path_for(rows["alpha-1.0-py3-none-any.whl"].sha256)
        data = bytearray(alpha.read_bytes())
        data[len(data) // 2] ^= 0x01  # one flipped bit in a mirrored wheel
        alpha.write_bytes(bytes(data))
        farm.blobs.path_for(rows["gamma-1.0-py3-none-any.whl"].sha256).unlink()  # a mirrored file gone
        beta = farm.blobs.path_for(rows["beta-1.0-py3-none-any.whl"].sha256)
        beta.write_bytes(beta.read_bytes() + b"\0")  # an uploaded wheel damaged: no other copy exists
        orphan = farm.blobs.root / "ab" / ("ab" + "0" * 62)
        orphan.parent.mkdir(exist_ok=True)
        orphan.write_bytes(b"left behind")
        page = settings.www_dir / "simple" / "alpha" / "index.html"
        page.write_bytes(page.read_bytes().replace(b"alpha-1.0", b"alpha-6.6"))

        result, report = _fsck(settings)
        assert result.exit_code == 1 and not report["sound"]
        assert _kinds(report) == {
            ("corrupt", "alpha-1.0-py3-none-any.whl"),
            ("missing", "gamma-1.0-py3-none-any.whl"),
            ("corrupt", "beta-1.0-py3-none-any.whl"),
            ("orphan", orphan.name),
            ("stale page", "index.html"),
        }

        result, report = _fsck(settings, "--repair")
        assert result.exit_code == 1  # beta cannot be mended
        assert _kinds(report) == {("corrupt", "beta-1.0-py3-none-any.whl"), ("orphan", orphan.name)}
        assert alpha.read_bytes() == (upstream_dir / "alpha-1.0-py3-none-any.whl").read_bytes()
        assert farm.blobs.path_for(rows["gamma-1.0-py3-none-any.whl"].sha256).is_file()
        assert b"alpha-6.6" not in page.read_bytes()
        [quarantined] = farm.catalog.quarantined()
        assert quarantined.name == "beta" and "fsck: corrupt beta-1.0-py3-none-any.whl" in str(
            quarantined.quarantine
        )
        assert not (settings.www_dir / "simple" / "beta").exists()  # no page serves the damaged file
        assert orphan.is_file()  # listed, never deleted

    result, report = _fsck(settings)  # what is left is exactly the quarantined file and the orphan
    assert _kinds(report) == {("corrupt", "beta-1.0-py3-none-any.whl"), ("orphan", orphan.name)}
    # Pages were mended for the URL they were rendered for, not for the fsck process's own default.
    page_json = json.loads((settings.www_dir / "simple" / "alpha" / "index.json").read_text())
    assert page_json["files"][0]["url"].startswith(settings.resolved_public_url)
