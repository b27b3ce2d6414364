"""``log_format = "json"``: a real ``wasmfarm serve`` process whose every log line is one JSON object, with an event
for each upload, token use and admin action, and an access line for each request."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx

from farm.context import Farm
from farm.settings import Settings
from farm.store.models import TokenScope
from tests.support.clients import upload
from tests.support.server import served_process, wasmfarm_command
from tests.support.wheels import make_wheel


def test_json_logs_carry_uploads_token_uses_admin_actions_and_access(tmp_path: Path) -> None:
    data = tmp_path / "data"
    farm = Farm.open(Settings(data_dir=data))
    admin = farm.tokens.create(TokenScope.ADMIN)
    owner = farm.tokens.create(TokenScope.UPLOAD, projects=["demo"])
    farm.close()
    wheel = make_wheel(tmp_path / "dist", "demo", "1.0")
    env = {"WASMFARM_LOG_FORMAT": "json", "WASMFARM_ACCESS_LOG": "-"}
    with served_process(data, env) as (url, _process):
        assert upload(url, wheel, owner.secret).status_code == 200
        yanked = httpx.post(
            url + f"api/files/{wheel.name}/yank",
            json={"reason": 'says "hi"\u00e9'},
            headers={"Authorization": f"Bearer {admin.secret}"},
        )
        assert yanked.status_code == 200, yanked.text
        assert httpx.get(url + "simple/demo/").status_code == 200
        assert httpx.post(url + f"api/files/{wheel.name}/delete").status_code == 401
        port = url.rstrip("/").rsplit(":", 1)[1]
    lines = (tmp_path / f"serve-{port}.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line, or this fails naming it
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    events = [r for r in records if "event" in r]
    by_event: dict[str, list[dict]] = {}
    for record in events:
        by_event.setdefault(record["event"], []).append(record)

    assert by_event["serving"][0]["url"] == url
    (uploaded,) = by_event["upload"]
    assert uploaded["target"] == wheel.name and uploaded["token_id"] == owner.id
    assert uploaded["client"] == "127.0.0.1" and uploaded["request"]["path"] == "/legacy/"
    used = {(r["token_id"], r["scope"], r["request"]["path"]) for r in by_event["token_used"]}
    assert used == {(owner.id, "upload", "/legacy/"), (admin.id, "admin", f"/api/files/{wheel.name}/yank")}
    (yank,) = by_event["yank"]
    assert (
        yank["target"] == wheel.name and yank["reason"] == 'says "hi"\u00e9' and yank["token_id"] == admin.id
    )
    access = {(r["method"], r["path"]): r for r in by_event["access"]}
    assert access[("POST", f"/api/files/{wheel.name}/yank")]["token_id"] == admin.id
    assert access[("POST", f"/api/files/{wheel.name}/yank")]["status"] == 200
    assert access[("GET", "/simple/demo/")]["status"] == 200
    assert access[("POST", f"/api/files/{wheel.name}/delete")]["status"] == 401
    assert access[("GET", "/health")]["token_id"] is None
    assert not any(secret in "\n".join(lines) for secret in (admin.secret, owner.secret))


def test_a_command_in_json_mode_reports_its_error_as_a_json_line(tmp_path: Path) -> None:
    env = {**os.environ, "WASMFARM_DATA_DIR": str(tmp_path / "data"), "WASMFARM_LOG_FORMAT": "json"}
    result = subprocess.run(
        [*wasmfarm_command(), "yank", "demo-1.0-py3-none-any.whl", "--reason", "x"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert records[-1]["event"] == "error" and records[-1]["error"] == "NotFound"
    assert "is not on this index" in records[-1]["detail"]
