"""The application factory: ``create_app(settings)`` wires the domain to HTTP. Nothing reads the environment here."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

import farm
from farm.build.jobs import BuildFarm, Jobs, make_broker
from farm.context import Farm
from farm.errors import FarmError, UploadTooLarge
from farm.settings import Settings
from index_server.builds import builds_router
from index_server.editor import mount_editor
from index_server.errors import error_body, error_headers, status_for
from index_server.locking import lock_router
from index_server.proxy import mount_proxy
from index_server.static_index import Message, Receive, Scope, Send, StaticIndex
from index_server.upload import upload_router

log = logging.getLogger(__name__)


class ASGIApp(Protocol):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


_SLASHES = re.compile(r"/{2,}")
FORM_OVERHEAD = 1024 * 1024  # multipart framing and metadata fields around the file


def create_app(settings: Settings, farm_: Farm | None = None) -> ASGIApp:
    domain = farm_ or Farm.open(settings)

    proxy_lifespan: list[contextlib.AbstractAsyncContextManager[None]] = []
    jobs = Jobs(BuildFarm(domain, domain.builds, domain.builders), make_broker(settings.broker_url))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        domain.blobs.sweep_temporaries()
        rendered = domain.publisher.refresh_stale()
        log.info("index ready (%d project page sets rendered at start)", rendered)
        worker = None
        if not settings.broker_url:  # the embedded default: builds run in this process
            worker = jobs.worker()
            worker.start()
            resumed = jobs.recover()
            if resumed:
                log.info("build farm: %d unfinished build(s) resumed", resumed)
        async with contextlib.AsyncExitStack() as stack:
            for context in proxy_lifespan:
                await stack.enter_async_context(context)
            yield
        if worker is not None:
            worker.stop()
        if farm_ is None:
            domain.close()

    api = FastAPI(title="wasmfarm", version=farm.__version__, lifespan=lifespan)

    @api.exception_handler(FarmError)
    async def _farm_error(_request: Request, exc: FarmError) -> Response:
        status = status_for(exc)
        headers = {k.decode(): v.decode() for k, v in error_headers(exc)}
        return Response(error_body(exc, status), status_code=status, headers=headers)

    @api.get("/health", summary="Liveness and what this server serves")
    def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": farm.__version__, "runtimes": settings.runtimes})

    mount_editor(api, settings)
    proxy = mount_proxy(api, settings)
    if proxy is not None:
        proxy_lifespan.append(proxy)
    api.include_router(upload_router(domain))
    api.include_router(lock_router(domain))
    api.include_router(builds_router(domain, jobs))
    verify = domain.tokens.verify if settings.require_read_token else None
    static = StaticIndex(settings.www_dir, domain.blobs, settings.runtimes, verify)
    app = WasmfarmApp(static, api, settings.max_upload_bytes + FORM_OVERHEAD, domain)
    return AccessLog(app, settings.access_log) if settings.access_log else app


class WasmfarmApp:
    """Outer ASGI app: tidy the path, send the read path to the static index, the rest to FastAPI."""

    def __init__(self, static: StaticIndex, api: FastAPI, max_body: int, domain: Farm) -> None:
        self.static = static
        self.api = api
        self.max_body = max_body
        self.farm = domain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if "//" in path:
                path = _SLASHES.sub("/", path)
                scope = dict(scope, path=path, raw_path=path.encode())
            if StaticIndex.handles(path) and scope["method"] != "POST" and "/lock/" not in path:
                await self.static(scope, receive, send)
                return
            if scope["method"] == "POST":
                declared = _content_length(scope)
                if declared is not None and declared > self.max_body:
                    await _too_large(send, declared, self.max_body)
                    return
                receive = _limited(receive, self.max_body)
        await self.api(scope, receive, send)


class AccessLog:
    """One line per request: ``<unix time> <method> <path> <status> <bytes> <content type>``, appended to a file."""

    def __init__(self, app: ASGIApp, path: Path) -> None:
        self.app = app
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = path.open("a", buffering=1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status, sent, content_type = 0, 0, "-"

        async def logging_send(message: Message) -> None:
            nonlocal status, sent, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for key, value in message.get("headers", []):
                    if key == b"content-type":
                        content_type = value.decode("latin-1").split(";")[0]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, logging_send)
        finally:
            self.file.write(
                f"{time.time():.3f} {scope['method']} {scope['path']} {status} {sent} {content_type}\n"
            )


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            with contextlib.suppress(ValueError):
                return int(value)
    return None


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Any:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise UploadTooLarge(f"request body exceeds the upload limit of {limit} bytes")
        return message

    return wrapped


async def _too_large(send: Send, declared: int, limit: int) -> None:
    exc = UploadTooLarge(
        f"request body of {declared} bytes exceeds the upload limit of {limit} bytes "
        "(setting max_upload_bytes, env WASMFARM_MAX_UPLOAD_BYTES)"
    )
    body = error_body(exc, 413)
    headers = [*error_headers(exc), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


__all__ = ["WasmfarmApp", "create_app"]
