"""The application factory: ``create_app(settings)`` wires the domain to HTTP. Nothing reads the environment here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

import farm
from farm.build.jobs import BuildFarm, Jobs, make_broker
from farm.context import Farm
from farm.errors import BadRequest, FarmError, InternalError, RequestTimeout, UploadTooLarge
from farm.ops.metrics import new_registry
from farm.overview.pages import render_error
from farm.runtime.lock_workers import LockWorkers
from farm.runtime.locking import runtime_wheel
from farm.settings import Settings
from index_server.access import ReadAccess
from index_server.builds import builds_router
from index_server.compat import compat_router
from index_server.curation import curation_router
from index_server.editor import mount_editor
from index_server.errors import error_body, error_headers, status_for
from index_server.landing import PAGE_CSP, landing_router, wants_html
from index_server.locking import lock_router
from index_server.metrics import Metered, ops_router
from index_server.packages import packages_router
from index_server.proxy import mount_proxy
from index_server.request_log import RequestLog, access_logger, enter_request
from index_server.static_index import Message, Receive, Scope, Send, StaticIndex
from index_server.upload import upload_router

log = logging.getLogger(__name__)


class ASGIApp(Protocol):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


_SLASHES = re.compile(r"/{2,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FORM_OVERHEAD = 1024 * 1024  # multipart framing and metadata fields around the file


def create_app(settings: Settings, farm_: Farm | None = None) -> ASGIApp:
    domain = farm_ or Farm.open(settings)

    proxy_lifespan: list[contextlib.AbstractAsyncContextManager[None]] = []
    jobs = Jobs(BuildFarm(domain, domain.builds, domain.builders), make_broker(settings.broker_url))
    lock_workers = LockWorkers(domain.settings)  # processes started on the first server-side lock

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        domain.blobs.sweep_temporaries()
        rendered = domain.publisher.refresh_stale()
        log.info("index ready (%d project page sets rendered at start)", rendered)
        domain.publisher.know_roots_soon()
        worker = None
        if not settings.broker_url:  # the embedded default: builds run in this process
            worker = jobs.worker()
            worker.start()
            resumed = jobs.recover()
            if resumed:
                log.info("build farm: %d unfinished build(s) resumed", resumed)
            stop_scans = compat_background.scans.run_here(
                settings.compat_workers, settings.build_lease_seconds
            )
        async with contextlib.AsyncExitStack() as stack:
            for context in proxy_lifespan:
                await stack.enter_async_context(context)
            yield
        lock_workers.close()
        compat_background.runner.close()
        if worker is not None:
            stop_scans()
            worker.stop()
        domain.publisher.close()  # the shared pages an upload marked, rendered before the process ends
        if farm_ is None:
            domain.close()

    # No /docs or /redoc: FastAPI's pages load their scripts from a public CDN and would run them on the origin that
    # holds the editor's secrets (and show nothing on an air-gapped site). The API is described at /openapi.json.
    api = FastAPI(
        title="wasmfarm", version=farm.__version__, lifespan=lifespan, docs_url=None, redoc_url=None
    )

    _answer_errors(api)
    registry, request_metrics = new_registry(
        domain.engine,
        renders=lambda: domain.publisher.renders,
        shared_renders=lambda: domain.publisher.shared.renders,
    )
    api.include_router(ops_router(domain, registry))
    api.include_router(landing_router(domain))
    mount_editor(api, settings)
    proxy = mount_proxy(api, settings)
    if proxy is not None:
        proxy_lifespan.append(proxy)
    api.include_router(upload_router(domain))
    api.include_router(curation_router(domain))
    api.include_router(lock_router(domain, lock_workers))
    api.include_router(packages_router(domain, lock_workers))
    api.include_router(builds_router(domain, jobs))
    compat, compat_background = compat_router(domain, jobs)
    api.include_router(compat)
    static = StaticIndex(
        settings.www_dir,
        domain.blobs,
        settings.runtimes,
        lambda version, name: runtime_wheel(domain.catalog, domain.blobs, version, name),
    )
    access = ReadAccess(domain.tokens.verify) if settings.require_read_token else None
    app: ASGIApp = WasmfarmApp(static, api, settings.max_upload_bytes + FORM_OVERHEAD, access)
    app = Metered(app, request_metrics)
    access_log, terse = access_logger(settings.access_log, settings.log_format)
    return RequestLog(app, access_log, terse) if access_log is not None else app


def _answer_errors(api: FastAPI) -> None:
    """Every error FastAPI meets is answered with a message: an HTML page for a browser's navigation, JSON for
    everything else (API, pip, uv and micropip clients); never FastAPI's default or a bare 500."""

    def html_error(status: int, exc: FarmError, headers: dict[str, str] | None = None) -> Response:
        title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        headers = {
            **(headers or {}),
            "Content-Security-Policy": PAGE_CSP,
            "X-Content-Type-Options": "nosniff",
        }
        headers.pop("content-type", None)
        return HTMLResponse(render_error(status, title, str(exc)), status_code=status, headers=headers)

    @api.exception_handler(FarmError)
    async def _farm_error(request: Request, exc: FarmError) -> Response:
        status = status_for(exc)
        headers = {k.decode(): v.decode() for k, v in error_headers(exc)}
        if wants_html(request.headers):
            return html_error(status, exc, headers)
        return Response(error_body(exc, status), status_code=status, headers=headers)

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        path = request.url.path
        messages = {
            404: f"no page at {path!r}; the editor is at /editor, the index at /simple/, builds at /builds",
            405: f"{request.method} is not allowed on {path!r}",
        }
        error = BadRequest(messages.get(exc.status_code, str(exc.detail)))
        if wants_html(request.headers):
            return html_error(exc.status_code, error, getattr(exc, "headers", None))
        return Response(
            error_body(error, exc.status_code),
            status_code=exc.status_code,
            media_type="application/json",
            headers=getattr(exc, "headers", None),
        )

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()[:5]
        )
        error = BadRequest(f"{request.method} {request.url.path}: {problems}")
        return Response(error_body(error, 422), status_code=422, media_type="application/json")

    @api.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        log.info(
            "%s %s: the client left before its request body ended", request.method, request.url.path[:200]
        )
        return Response(status_code=400)  # nobody reads it

    @api.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        internal = InternalError("internal error: this is a bug in wasmfarm; the server log has it")
        return Response(error_body(internal, 500), status_code=500, media_type="application/json")


class WasmfarmApp:
    """Outer ASGI app: refuse malformed requests, check read access, tidy the path, send the read path to the static
    index and the rest to FastAPI; whatever escapes below still gets a JSON answer."""

    def __init__(self, static: StaticIndex, api: FastAPI, max_body: int, access: ReadAccess | None) -> None:
        self.static = static
        self.api = api
        self.max_body = max_body
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.api(scope, receive, send)
            return
        answer = send  # wrapped below for the API, which may fail after it began a response
        try:
            scope = self._admit(scope)
            path: str = scope["path"]
            if (
                StaticIndex.handles(path)
                and scope["method"] != "POST"
                and "/lock/" not in path
                and "/-/" not in path
            ):
                # The hot path, unwrapped: the static index answers its own errors.
                await self.static(scope, receive, send)
                return
            if scope["method"] in ("POST", "PUT", "PATCH"):
                declared = _content_length(scope)
                if declared is not None and declared > self.max_body:
                    raise _too_large(declared, self.max_body)
                receive = _limited(receive, self.max_body)
            answer = _Answer(send)
            enter_request(scope)
            await self.api(scope, receive, answer)
        except FarmError as exc:
            if isinstance(exc, RequestTimeout):
                log.info("%s %s: %s", scope["method"], scope["path"][:200], exc)
            await _error(answer, exc)
        except ClientDisconnect:  # the client went away mid-body: nobody to answer
            log.info(
                "%s %s: the client disconnected before its request body ended",
                scope["method"],
                scope["path"][:200],
            )
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            await _error(
                answer, InternalError("internal error: this is a bug in wasmfarm; the server log has it")
            )

    def _admit(self, scope: Scope) -> Scope:
        """Refuse what no route takes, tidy the path, check read access; the scope to dispatch."""
        path: str = scope["path"]
        if _CONTROL.search(path):
            raise BadRequest(
                f"the request path {path[:80]!r} contains a control character (NUL, newline, ...); no URL here does"
            )
        if "//" in path:
            path = _SLASHES.sub("/", path)
            scope = dict(scope, path=path, raw_path=path.encode())
        if self.access is not None:
            enter_request(scope)
            self.access.check(scope)
        return scope


async def _error(send: Send, exc: FarmError) -> None:
    await (send if isinstance(send, _Answer) else _Answer(send)).error(exc)


class _Answer:
    """The response side of one request: knows whether a response has begun, so an error can still be answered."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)

    async def error(self, exc: FarmError) -> None:
        if self.started:  # too late for a status: end the response and let the server drop the connection
            raise exc
        status = status_for(exc)
        body = error_body(exc, status)
        headers = [*error_headers(exc), (b"content-length", str(len(body)).encode())]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            with contextlib.suppress(ValueError):
                return int(value)
    return None


BODY_IDLE_SECONDS = 30.0  # longest wait for the next piece of a request body


def _limited(receive: Receive, limit: int) -> Receive:
    """A body of undeclared length (chunked) is counted as it streams and cut at the limit; one that stops arriving
    for ``BODY_IDLE_SECONDS`` is abandoned with a 408 (the heads have their own limit: ``head_limited_protocol``)."""
    seen = 0
    ended = False

    async def wrapped() -> Any:
        nonlocal seen
        nonlocal ended
        if ended:  # after the body, receive() waits for a disconnect, as long as a response streams
            return await receive()
        try:
            message = await asyncio.wait_for(receive(), BODY_IDLE_SECONDS)
        except TimeoutError:
            raise RequestTimeout(
                f"the request body stopped arriving: nothing for {BODY_IDLE_SECONDS:.0f} s after {seen} bytes; "
                "send it again"
            ) from None
        seen += len(message.get("body", b""))
        ended = message.get("type") != "http.request" or not message.get("more_body", False)
        if seen > limit:
            raise UploadTooLarge(
                f"request body exceeds the upload limit of {limit} bytes (setting max_upload_bytes, env "
                "WASMFARM_MAX_UPLOAD_BYTES); it was cut there and nothing was stored"
            )
        return message

    return wrapped


def _too_large(declared: int, limit: int) -> UploadTooLarge:
    return UploadTooLarge(
        f"request body of {declared} bytes exceeds the upload limit of {limit} bytes "
        "(setting max_upload_bytes, env WASMFARM_MAX_UPLOAD_BYTES)"
    )


__all__ = ["WasmfarmApp", "create_app"]
