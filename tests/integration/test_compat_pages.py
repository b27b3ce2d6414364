"""The /compat pages against a real ``wasmfarm serve`` process (SQLite and PostgreSQL): both pages as JSON and HTML,
the badge, completion, who may request checks (off, token with the build scope, anyone but rate-limited), hostile
names, and the summary's server time with 10,000 kept checks. Checks requested here need no Pyodide: the projects
are upstream only (their verdicts are *available upstream*); real runs are in tests/e2e/test_compat_page.py."""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import update
from sqlmodel import col

from farm.compat.scan_records import ScanRecords
from farm.compat.store import CheckStore
from farm.compat.verdict import Code, Evidence, FileRef, Node, Status, Verdict
from farm.context import Farm
from farm.settings import Settings
from farm.store.models import CompatScanBatch
from index_server.cli import cli
from tests.support.compat_checks import seed_checks
from tests.support.server import serve_process, wasmfarm_command
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel

RUNTIME = "314.0.7"
HOSTILE = "<script>alert('x')</script>"


@contextmanager
def server(settings: Settings, **env: object) -> Iterator[str]:
    full = {"WASMFARM_DATABASE_URL": settings.resolved_database_url}
    full.update({f"WASMFARM_{k.upper()}": str(v) for k, v in env.items()})
    with serve_process(settings.data_dir, full) as url:
        yield url


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[UpstreamServer]:
    root = tmp_path / "upstream"
    make_wheel(root, "purely", "1.0", requires=["helper>=1"])
    make_wheel(root, "helper", "1.0")
    with UpstreamServer(root) as served:
        yield served


def token(settings: Settings, scope: str) -> str:
    env = {
        "WASMFARM_DATA_DIR": str(settings.data_dir),
        "WASMFARM_DATABASE_URL": settings.resolved_database_url,
    }
    result = CliRunner().invoke(cli, ["token", "create", "--scope", scope], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[0]


def keep_examples(settings: Settings) -> None:
    """A working project with a dependency, and one whose reason carries markup."""
    farm = Farm.open(settings)
    store = CheckStore(farm.engine)
    wheel = FileRef(
        "greet-1.0-py3-none-any.whl", "a" * 64, f"files/aa/{'a' * 64}/greet-1.0-py3-none-any.whl", "mirrored"
    )
    closure = (
        Node("greet", "1.0", wheel.filename, wheel.sha256, True, ("colorname", "palette")),
        Node("colorname", "2.1", "colorname-2.1-py3-none-any.whl", "b" * 64, True),
        Node("palette", "3.0", "palette-3.0-py3-none-any.whl", "c" * 64, True),
    )
    installed = {"greet": "1.0", "colorname": "2.1", "Palette": "3.0"}  # palette has no check of its own
    evidence = Evidence(wheel=wheel, closure=closure, imports={"greet": "ok"}, installed=installed)
    store.add(
        Verdict(
            "greet",
            "greet",
            "1.0",
            RUNTIME,
            Status.WORKS,
            Code.IMPORTED,
            "imported",
            evidence,
            "k1",
            ran=True,
        )
    )
    store.add(
        Verdict("colorname", "colorname", "2.1", RUNTIME, Status.WORKS, Code.IMPORTED, "ok", Evidence(), "k2")
    )
    failing = Evidence(imports={"evil": f"Traceback\nImportError: {HOSTILE}"}, log=(HOSTILE,))
    store.add(
        Verdict("evil", "evil", "1.0", RUNTIME, Status.FAILS, Code.IMPORT_FAILED, HOSTILE, failing, "k3")
    )
    farm.close()


def wait_task(url: str, task: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = httpx.get(url + task["url"].lstrip("/")).json()
        if found["state"] in ("done", "failed"):
            return dict(found)
        time.sleep(0.2)
    raise AssertionError(f"task {task['id']} did not finish")


def test_pages_json_html_badge_and_completion(settings: Settings) -> None:
    keep_examples(settings)
    with server(settings) as url:
        summary = httpx.get(f"{url}compat", params={"format": "json"}).json()
        page = httpx.get(f"{url}compat")
        greet = httpx.get(f"{url}compat/greet", params={"format": "json"}).json()
        greet_page = httpx.get(f"{url}compat/greet").text
        evil = httpx.get(f"{url}compat/evil")
        filtered = httpx.get(
            f"{url}compat", params={"format": "json", "status": "works", "sort": "project", "order": "desc"}
        ).json()
        paged = httpx.get(f"{url}compat", params={"format": "json", "per_page": 1, "page": 2}).json()
        texted = httpx.get(f"{url}compat", params={"format": "json", "q": "COLOR"}).json()
        suggestions = httpx.get(f"{url}compat/-/suggest", params={"q": "gr"}).json()
        found = httpx.get(f"{url}compat/-/search", params={"q": "Greet"}, follow_redirects=False)
        badge = httpx.get(f"{url}compat/greet/badge.svg", params={"runtime": RUNTIME})
        unknown_badge = httpx.get(f"{url}compat/never-checked/badge.svg", params={"format": "text"})
        script = httpx.get(f"{url}compat/-/compat.js")
        never = httpx.get(f"{url}compat/never-checked", params={"format": "json"}).json()

    assert summary["summary"]["runtimes"] == {RUNTIME: {"works": 2, "fails": 1}}
    assert summary["summary"]["checked_projects"] == 3 and summary["page"]["rows"] == 3
    assert [r["project"] for r in summary["rows"]] == ["colorname", "evil", "greet"]
    assert summary["rows"][2]["url"] == "/compat/greet" and summary["requests"] == "token"
    assert [r["project"] for r in filtered["rows"]] == ["greet", "colorname"]
    assert [r["project"] for r in paged["rows"]] == ["evil"] and paged["page"]["pages"] == 3
    assert paged["page"]["next"] == "/compat?page=3&per_page=1"
    assert [r["project"] for r in texted["rows"]] == ["colorname"]

    [entry] = greet["runtimes"]
    assert entry["verdict"]["status"] == "works" and entry["verdict"]["check_id"] is not None
    assert [(n["name"], n["status"], n["depends"], n["installed_with"]) for n in entry["tree"]] == [
        ("greet", "works", ["colorname", "palette"], None),
        ("colorname", "works", [], None),
        ("palette", None, [], "greet"),
    ]
    assert "palette</a> 3.0 mirrored: <span class='unknown'>installed with greet</span>" in greet_page
    assert "colorname</a> 2.1 mirrored: <span class='works'>works</span>" in greet_page
    assert entry["try_it"].startswith("/editor#v1.") and set(entry["actions"]) == {"check"}
    assert [h["project"] for h in greet["history"]] == ["greet"]
    assert never["known"] is False and never["runtimes"][0]["verdict"] is None

    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert float(page.headers["server-timing"].removeprefix("app;dur=")) > 0
    assert "<script type='module' src='/compat/-/compat.js'></script>" in page.text
    assert len(re.findall(r"<script", page.text)) == 1  # no inline script
    assert HOSTILE not in evil.text and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in evil.text
    assert re.search(r"<img src='/compat/evil/badge.svg\?runtime=314.0.7&amp;check=\d+'", evil.text)

    assert suggestions["suggestions"] == ["greet"]
    assert (found.status_code, found.headers["location"]) == (303, "/compat/greet")
    assert (
        badge.headers["content-type"] == "image/svg+xml" and "max-age=300" in badge.headers["cache-control"]
    )
    assert ">works</text>" in badge.text and "<title>greet on Pyodide 314.0.7: works</title>" in badge.text
    assert unknown_badge.text == "never-checked on Pyodide 314.0.7: not checked\n"
    assert script.headers["content-type"].startswith("text/javascript") and "followBuild" in script.text


HOSTILE_REQUESTS = [
    ("GET", "compat/%00"),
    ("GET", "compat/%3Cscript%3E"),
    ("GET", "compat/" + "a" * 300),
    ("GET", "compat/%2E%2E"),
    ("GET", "compat/-x-"),
    ("GET", "compat/attrs/badge.svg?runtime=0.0.1"),
    ("GET", "compat/attrs/badge.svg?format=png"),
    ("GET", "compat/attrs?format=xml"),
    ("GET", "compat?page=0"),
    ("GET", "compat?per_page=100000"),
    ("GET", "compat?status=great"),
    ("GET", "compat?sort=id"),
    ("GET", "compat?page=abc"),
    ("GET", "compat?page=99999999999999999999999"),
    ("GET", "compat?q=" + "x" * 300),
    ("GET", "compat/-/search?q=%3Cscript%3E"),
    ("GET", "compat/-/tasks/nope"),
    ("POST", "compat/%3Cscript%3E/check"),
    ("POST", "compat/attrs/check?runtime=0.0.1"),
    ("POST", "compat/-/scan"),
]


def test_hostile_input_gets_a_4xx_with_a_message(settings: Settings) -> None:
    with server(settings) as url:
        answers = {(m, p): httpx.request(m, url + p) for m, p in HOSTILE_REQUESTS}
    for request, response in answers.items():
        assert 400 <= response.status_code < 500, (request, response.status_code, response.text)
        assert response.json()["message"], request


def test_requests_off_refuse_every_action(settings: Settings) -> None:
    with server(settings, compat_requests="off") as url:
        admin = token(settings, "admin")
        for action in ("check", "build", "mirror"):
            refused = httpx.post(f"{url}compat/purely/{action}", headers={"Authorization": f"Bearer {admin}"})
            assert refused.status_code == 403, refused.text
            assert "compat_requests = off" in refused.json()["message"]
        page = httpx.get(f"{url}compat/purely", params={"format": "json"}).json()
    assert page["requests"] == "off" and page["runtimes"][0]["actions"] == {}


def test_token_mode_needs_the_build_scope_and_admin_for_mirroring_and_scans(
    settings: Settings, upstream: UpstreamServer
) -> None:
    with server(settings, upstream_index=upstream.url) as url:
        build, upload, admin = token(settings, "build"), token(settings, "upload"), token(settings, "admin")
        missing = httpx.post(f"{url}compat/purely/check")
        wrong = httpx.post(f"{url}compat/purely/check", headers={"Authorization": f"Bearer {upload}"})
        accepted = httpx.post(f"{url}compat/purely/check", headers={"Authorization": f"Bearer {build}"})
        mirror = httpx.post(f"{url}compat/purely/mirror", headers={"Authorization": f"Bearer {build}"})
        scan_refused = httpx.post(
            f"{url}compat/-/scan", content="purely\n", headers={"Authorization": f"Bearer {build}"}
        )
        assert accepted.status_code == 202, accepted.text
        done = wait_task(url, accepted.json())
        page = httpx.get(f"{url}compat/purely", params={"format": "json"}).json()
        scan = httpx.post(
            f"{url}compat/-/scan", content="# a list\npurely\nhelper\nno-such-thing\n",
            headers={"Authorization": f"Bearer {admin}", "Content-Type": "text/plain"},
        )  # fmt: skip
        assert scan.status_code == 202, scan.text
        scanned = wait_task(url, scan.json())
        summary = httpx.get(f"{url}compat", params={"format": "json"}).json()
    assert missing.status_code == 401 and "scope 'build'" in missing.json()["message"]
    assert wrong.status_code == 403 and mirror.status_code == 403 and scan_refused.status_code == 403
    assert done["state"] == "done", done
    assert (done["verdicts"][0]["status"], done["verdicts"][0]["code"]) == (
        "available-upstream",
        "wheel-upstream",
    )
    entry = page["runtimes"][0]
    assert entry["verdict"]["check_id"] == done["verdicts"][0]["check_id"]
    assert set(entry["actions"]) == {"check", "mirror"}  # available upstream: an admin may mirror it
    assert [(n["name"], n["mirrored"]) for n in entry["tree"]] == [("purely", False), ("helper", False)]
    assert scanned["state"] == "done" and scanned["progress"] == {"done": 3, "total": 3}, scanned
    assert scanned["counts"] == {"available-upstream": 2, "fails": 1}
    assert summary["summary"]["checked_projects"] == 3


def test_anyone_may_ask_but_is_rate_limited(settings: Settings, upstream: UpstreamServer) -> None:
    with server(settings, upstream_index=upstream.url, compat_requests="anyone", compat_rate_per_minute=2,
                compat_rate_burst=2) as url:  # fmt: skip
        first = httpx.post(f"{url}compat/purely/check")
        second = httpx.post(f"{url}compat/helper/check")
        third = httpx.post(f"{url}compat/purely/check")
        # Behind a reverse proxy on loopback (forwarded_allow_ips), each forwarded client has a bucket of its own.
        forwarded = {"X-Forwarded-For": "192.0.2.7"}
        behind = [httpx.post(f"{url}compat/helper/check", headers=forwarded) for _ in range(3)]
        with_token = httpx.post(
            f"{url}compat/purely/check", headers={"Authorization": f"Bearer {token(settings, 'build')}"}
        )
        for accepted in (first, second, with_token, *behind[:2]):
            wait_task(url, accepted.json())
    assert (first.status_code, second.status_code, with_token.status_code) == (202, 202, 202)
    assert third.status_code == 429, third.text
    assert [r.status_code for r in behind] == [202, 202, 429], [r.text for r in behind]
    assert "a minute from 192.0.2.7" in behind[2].json()["message"]
    assert 1 <= int(third.headers["retry-after"]) <= 30
    assert "check or build requests a minute from 127.0.0.1" in third.json()["message"]


def test_summary_with_10000_kept_checks_is_fast(settings: Settings) -> None:
    farm = Farm.open(settings)
    seed_checks(farm.engine, 10_000, [RUNTIME])
    farm.close()
    times: dict[str, list[float]] = {}
    with server(settings) as url:
        targets = {
            "summary page": {},
            "summary as JSON": {"format": "json"},
            "filtered, sorted by time, page 20": {
                "status": "fails",
                "sort": "checked",
                "order": "desc",
                "page": 20,
            },
            "name contains": {"q": "0042"},
        }
        with httpx.Client(base_url=url) as client:
            for label, params in targets.items():
                client.get("compat", params=params)  # warm
                times[label] = []
                for _ in range(7):
                    response = client.get("compat", params=params)
                    assert response.status_code == 200
                    times[label].append(float(response.headers["server-timing"].removeprefix("app;dur=")))
            document = client.get(
                "compat", params={"format": "json", **targets["filtered, sorted by time, page 20"]}
            ).json()
    backend = settings.resolved_database_url.split(":")[0]
    for label, values in times.items():
        print(f"\n/compat {label} at 10,000 kept checks ({backend}): server time {statistics.median(values):.1f} ms "
              f"[{min(values):.1f}-{max(values):.1f}]")  # fmt: skip
    assert document["summary"]["current_checks"] == 10_000 and document["page"]["rows"] == 4_000
    assert len(document["rows"]) == 50
    checked = [r["checked_at"] for r in document["rows"]]
    assert checked == sorted(checked, reverse=True)
    assert statistics.median(times["summary page"]) < 250  # target 100 ms; margin for a busy machine


def test_a_scan_left_by_a_stopped_server_finishes_when_it_starts_again(
    settings: Settings, upstream: UpstreamServer
) -> None:
    """Scans are rows and jobs: a batch the last process never started and one it was running when it stopped are
    both run by the next."""
    farm = Farm.open(settings)
    records = ScanRecords(farm.engine, lease_seconds=60)
    scan_id, _ = records.create(["purely", "helper", "no-such-thing"], [RUNTIME], batch_size=1, workers=1)
    assert records.claim(scan_id, 0, "the process that stopped") is not None
    with farm.engine.begin() as connection:  # its heartbeat went silent with it
        connection.execute(
            update(CompatScanBatch)
            .where(col(CompatScanBatch.scan_id) == scan_id)
            .values(heartbeat_at=datetime.now(UTC) - timedelta(minutes=5))
        )
    farm.close()
    with server(settings, upstream_index=upstream.url) as url:
        scanned = wait_task(url, {"id": scan_id, "url": f"/compat/-/tasks/{scan_id}"})
        admin = {"Authorization": f"Bearer {token(settings, 'admin')}", "Content-Type": "text/plain"}
        first = httpx.post(f"{url}compat/-/scan", content="helper\npurely\n", headers=admin)
        again = wait_task(url, first.json())
    assert scanned["state"] == "done" and scanned["progress"] == {"done": 3, "total": 3}, scanned
    assert scanned["counts"] == {"available-upstream": 2, "fails": 1}
    assert first.status_code == 202 and first.json()["id"] != scan_id, (
        first.text
    )  # that scan ended: a new one
    assert again["state"] == "done" and again["progress"] == {"done": 2, "total": 2}, again


REDIS = "redis://127.0.0.1:6379"


def test_with_a_broker_every_wasmfarm_worker_runs_scan_batches(
    settings: Settings, upstream: UpstreamServer, tmp_path: Path
) -> None:
    db = 1 + uuid.uuid4().int % 14  # a Redis database of its own, flushed
    client = redis.Redis.from_url(f"{REDIS}/{db}")
    client.flushdb()
    env = {
        "WASMFARM_DATA_DIR": str(settings.data_dir),
        "WASMFARM_DATABASE_URL": settings.resolved_database_url,
        "WASMFARM_UPSTREAM_INDEX": upstream.url,
        "WASMFARM_BROKER_URL": f"{REDIS}/{db}",
    }
    try:
        with server(settings, upstream_index=upstream.url, broker_url=f"{REDIS}/{db}") as url:
            admin = {"Authorization": f"Bearer {token(settings, 'admin')}", "Content-Type": "text/plain"}
            task = httpx.post(f"{url}compat/-/scan", content="purely\nhelper\n", headers=admin).json()
            time.sleep(1.0)
            waiting = httpx.get(url + task["url"].lstrip("/")).json()  # the server runs no batch itself
            log = (tmp_path / "worker.log").open("wb")
            worker = subprocess.Popen(
                [*wasmfarm_command(), "worker", "--check-threads", "1"],
                env={**os.environ, **env}, stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
            try:
                scanned = wait_task(url, task)
            finally:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(30)
    finally:
        client.flushdb()
    assert waiting["state"] == "queued" and waiting["progress"]["done"] == 0, waiting
    assert scanned["state"] == "done" and scanned["counts"] == {"available-upstream": 2}, scanned
