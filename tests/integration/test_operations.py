"""Operating the server: ``/metrics`` read by the real Prometheus parser, ``/health`` and ``/ready``."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from farm.context import Farm
from farm.settings import Settings
from farm.store.models import TokenScope
from tests.integration.test_http import upload
from tests.support.server import serve_thread
from tests.support.wheels import make_wheel


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_requests_and_the_store(settings: Settings, tmp_path: Path) -> None:
    farm = Farm.open(settings)
    token = farm.tokens.create(TokenScope.UPLOAD).secret
    farm.close()
    wheel = make_wheel(tmp_path, "counted", "1.0")
    with serve_thread(settings) as url:
        assert upload(url, wheel, token, name="counted", version="1.0").status_code == 200
        for _ in range(3):
            assert httpx.get(f"{url}simple/counted/").status_code == 200
        assert httpx.get(f"{url}simple/no-such-project/").status_code == 404
        text = httpx.get(f"{url}metrics").text
    samples = _samples(text)
    assert samples[("wasmfarm_http_requests_total", (("route", "simple"), ("status", "200")))] == 3
    assert samples[("wasmfarm_http_requests_total", (("route", "simple"), ("status", "404")))] == 1
    assert samples[("wasmfarm_http_requests_total", (("route", "legacy"), ("status", "200")))] == 1
    assert samples[("wasmfarm_http_request_seconds_count", (("route", "simple"),))] == 4
    assert samples[("wasmfarm_http_response_bytes_total", (("route", "simple"),))] > 0
    assert samples[("wasmfarm_store_files", (("origin", "uploaded"),))] == 1
    assert samples[("wasmfarm_store_bytes", (("origin", "uploaded"),))] == wheel.stat().st_size
    assert samples[("wasmfarm_store_projects", (("state", "published"),))] == 1
    assert samples[("wasmfarm_audit_events_total", (("action", "upload"),))] == 1


def test_health_fails_when_the_database_is_gone_and_ready_waits_for_the_runtime(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", auto_install_runtimes=False)
    with serve_thread(settings) as url:
        health = httpx.get(f"{url}health")
        assert health.status_code == 200 and health.json()["checks"]["database"]["ok"], health.text
        probed = httpx.head(f"{url}health")  # as load balancers probe: the status, no body
        assert probed.status_code == 200 and probed.content == b"", probed
        ready = httpx.get(f"{url}ready")  # no runtime installed: live, not ready
        assert ready.status_code == 503 and httpx.head(f"{url}ready").status_code == 503
        assert ready.json()["checks"]["runtime 314.0.7"]["detail"].startswith("not installed yet")
        for leftover in settings.data_dir.glob("wasmfarm.db*"):  # the database, its WAL and shared memory
            leftover.unlink()
        gone = httpx.get(f"{url}health")
        assert gone.status_code == 503 and not gone.json()["checks"]["database"]["ok"], gone.text
        assert httpx.head(f"{url}health").status_code == 503
