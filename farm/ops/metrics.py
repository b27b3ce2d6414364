"""Prometheus metrics (``prometheus_client``): what the server did, counted as it serves, and what the store holds,
read from the database when scraped.

Request metrics are labelled by route *class* (``simple``, ``files``, ``pyodide``, ``legacy`` for uploads, ...) and
status, never by path: a label per project would give a series per project. Each app has its own registry (two apps
in one process, as the tests run them, do not share counters).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from farm.store.models import AuditEvent, Build, DistFile, Project

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0)


def route_class(path: str) -> str:
    """The label a request path is counted under."""
    first = path.split("/", 2)[1] if path.count("/") >= 1 else ""
    if first in (
        "simple",
        "files",
        "pyodide",
        "builds",
        "compat",
        "proxy",
        "legacy",
        "health",
        "ready",
        "metrics",
    ):
        return first
    if first == "r":
        return "lock" if path.endswith("/lock") or "/lock/" in path else "simple"
    if first in ("", "app", "editor", "runner", "favicon.ico"):
        return "editor"
    return "other"


class RequestMetrics(Collector):
    """Requests by route class and status, a latency histogram and body bytes by route class.

    Counted in plain Python numbers and turned into Prometheus families when scraped: ``prometheus_client``'s own
    ``Counter.inc`` and ``Histogram.observe`` take a lock each and cost about 4 us a request here, a tenth of what
    serving a page costs; this costs about a tenth of that. (Hand-rolled counting, the library's exposition.) The
    app serves from one event loop thread, so the increments need no lock."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, int], list[int]] = {}
        self._latency: dict[str, _Histogram] = {}

    def observe(self, route: str, status: int, seconds: float, sent: int) -> None:
        count = self._requests.get((route, status))
        if count is None:
            count = self._requests[(route, status)] = [0]
        count[0] += 1
        histogram = self._latency.get(route)
        if histogram is None:
            histogram = self._latency[route] = _Histogram()
        histogram.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        histogram.sum += seconds
        histogram.bytes += sent

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "wasmfarm_http_requests", "HTTP requests answered", labels=["route", "status"]
        )
        for (route, status), count in sorted(self._requests.items()):
            requests.add_metric([route, str(status)], count[0])
        latency = HistogramMetricFamily(
            "wasmfarm_http_request_seconds",
            "Time from the request to the end of its response",
            labels=["route"],
        )
        volume = CounterMetricFamily(
            "wasmfarm_http_response_bytes", "Response body bytes sent", labels=["route"]
        )
        for route, histogram in sorted(self._latency.items()):
            cumulative, running = [], 0
            for bound, count_in in zip((*LATENCY_BUCKETS, math.inf), histogram.buckets, strict=True):
                running += count_in
                cumulative.append((_bound(bound), running))
            latency.add_metric([route], cumulative, histogram.sum)
            volume.add_metric([route], histogram.bytes)
        yield from (requests, latency, volume)


def _bound(value: float) -> str:
    return "+Inf" if value == math.inf else repr(value)


@dataclass
class _Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))  # the last: +Inf
    sum: float = 0.0
    bytes: int = 0


class StoreCollector(Collector):
    """What the store holds, read when scraped: projects, files and bytes by origin, builds by state (the queue
    depth is the ``queued`` ones), quarantined projects, and the audit trail's events by action (uploads, mirror runs
    that changed something, yanks, deletes, ...: from every process, not only this one)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        files = GaugeMetricFamily("wasmfarm_store_files", "Files in the catalog", labels=["origin"])
        size = GaugeMetricFamily(
            "wasmfarm_store_bytes", "Bytes of the files in the catalog", labels=["origin"]
        )
        projects = GaugeMetricFamily("wasmfarm_store_projects", "Projects in the catalog", labels=["state"])
        builds = GaugeMetricFamily("wasmfarm_builds", "Builds by state", labels=["state"])
        events = CounterMetricFamily(
            "wasmfarm_audit_events", "Audit trail events by action (wasmfarm audit)", labels=["action"]
        )
        with Session(self.engine) as session:
            for origin, count, total in session.exec(
                select(DistFile.origin, func.count(), func.coalesce(func.sum(DistFile.size), 0)).group_by(
                    DistFile.origin
                )
            ):
                files.add_metric([origin], count)
                size.add_metric([origin], total)
            quarantined = session.exec(
                select(func.count()).select_from(Project).where(Project.quarantine.is_not(None))  # type: ignore[union-attr]
            ).one()
            everything = session.exec(select(func.count()).select_from(Project)).one()
            projects.add_metric(["published"], everything - quarantined)
            projects.add_metric(["quarantined"], quarantined)
            for state, count in session.exec(select(Build.state, func.count()).group_by(Build.state)):
                builds.add_metric([state], count)
            for action, count in session.exec(
                select(AuditEvent.action, func.count()).group_by(AuditEvent.action)
            ):
                events.add_metric([action], count)
        yield from (files, size, projects, builds, events)


class RenderCollector(Collector):
    """Renders of project pages run by this process (each serves every change asked for while the previous ran),
    and of the shared pages (root listings and runtime locks; each serves every change marked before it)."""

    def __init__(self, renders: Callable[[], int], shared_renders: Callable[[], int] | None = None) -> None:
        self.renders = renders
        self.shared_renders = shared_renders

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "wasmfarm_page_renders", "Renders of project pages by this process", value=self.renders()
        )
        if self.shared_renders is not None:
            yield CounterMetricFamily(
                "wasmfarm_shared_page_renders",
                "Renders of the root listings and the runtimes' locks by this process",
                value=self.shared_renders(),
            )


def new_registry(
    engine: Engine, renders: Callable[[], int] | None = None, shared_renders: Callable[[], int] | None = None
) -> tuple[CollectorRegistry, RequestMetrics]:
    registry = CollectorRegistry()
    requests = RequestMetrics()
    registry.register(requests)
    registry.register(StoreCollector(engine))
    if renders is not None:
        registry.register(RenderCollector(renders, shared_renders))
    return registry, requests
