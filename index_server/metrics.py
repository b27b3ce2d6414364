"""``/metrics`` (Prometheus text format), ``/health`` and ``/ready``, and the ASGI wrapper that counts requests."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

import farm
from farm.context import Farm
from farm.ops import health
from farm.ops.metrics import RequestMetrics, route_class
from index_server.static_index import Message, Receive, Scope, Send

Inner = Callable[[Scope, Receive, Send], Awaitable[None]]


class Metered:
    """Counts every HTTP request by route class and status, its latency and the bytes of its body."""

    def __init__(self, app: Inner, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        sent = 0

        async def counting(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            else:
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            self.metrics.observe(route_class(scope["path"]), status, time.perf_counter() - started, sent)


def ops_router(domain: Farm, registry: CollectorRegistry) -> APIRouter:
    router = APIRouter()
    settings = domain.settings

    @router.get("/health", summary="Liveness: the database answers, the store and pages can be read")
    async def health_check() -> JSONResponse:
        result = await run_in_threadpool(health.liveness, domain.engine, settings.blob_dir, settings.www_dir)
        body = {**result.as_dict(), "version": farm.__version__, "runtimes": settings.runtimes}
        return JSONResponse(body, status_code=200 if result.ok else 503)

    @router.get("/ready", summary="Readiness: live, the runtimes installed and the index rendered")
    async def ready() -> JSONResponse:
        result = await run_in_threadpool(
            health.readiness,
            domain.engine,
            settings.blob_dir,
            settings.www_dir,
            domain.runtimes,
            settings.runtimes,
        )
        return JSONResponse(result.as_dict(), status_code=200 if result.ok else 503)

    # HEAD as well: load balancers and uptime checks often probe with it (the status is the answer). Routes of their
    # own, left out of the API description: one operation per path there, each with its own id.
    router.add_api_route("/health", health_check, methods=["HEAD"], include_in_schema=False)
    router.add_api_route("/ready", ready, methods=["HEAD"], include_in_schema=False)

    @router.get("/metrics", summary="Prometheus metrics: requests, latencies, bytes, uploads, builds, store")
    async def metrics() -> Response:
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router
