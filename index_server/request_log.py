"""The request context every log line carries, and the access log.

The context (method, path, client address, and the token once one is verified) is set for requests that reach the
API or a token check, so a token use, an upload or an error logged below names the request. The access log
(setting ``access_log``: a file, or ``-`` for the server's log on stderr) gets one line per request when the response
ends. In text format a file line is ``<unix time> <method> <path> <status> <bytes> <content type>``; in JSON (setting
``log_format``) it is an ``access`` event with those fields, the client, the duration and the token id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from farm.ops.logs import CURRENT_REQUEST, LogFormat, RequestContext, event, file_logger
from index_server.static_index import Message, Receive, Scope, Send

Inner = Callable[[Scope, Receive, Send], Awaitable[None]]
STDERR = Path("-")


def access_logger(path: Path | None, log_format: LogFormat) -> tuple[logging.Logger | None, bool]:
    """The logger access lines go to (None: no access log), and whether it writes the terse text line."""
    if path is None:
        return None, False
    if path == STDERR:
        return logging.getLogger("wasmfarm.access"), False
    path.parent.mkdir(parents=True, exist_ok=True)
    return file_logger("wasmfarm.access.file", str(path), log_format), log_format == "text"


def enter_request(scope: Scope) -> RequestContext:
    """The request's context, made when something below needs it (a route of the API, a token check) unless the
    access log made it already. The unwrapped read path never pays for it. No reset is needed: uvicorn runs every
    request in a task of its own, whose context ends with it."""
    current = CURRENT_REQUEST.get()
    if current is None:
        client = scope.get("client")
        current = RequestContext(scope["method"], scope["path"], client[0] if client else None)
        CURRENT_REQUEST.set(current)
    return current


class RequestLog:
    """The access log, outermost: it makes the request's context first, so the token a request used is in its line."""

    def __init__(self, app: Inner, access: logging.Logger, terse: bool) -> None:
        self.app = app
        self.access = access
        self.terse = terse  # the historical one-line text format of the access log file

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        request = RequestContext(scope["method"], scope["path"], client[0] if client else None)
        reset = CURRENT_REQUEST.set(request)
        started = time.perf_counter()
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
            self._log(request, status, sent, content_type, time.perf_counter() - started)
            CURRENT_REQUEST.reset(reset)

    def _log(
        self, request: RequestContext, status: int, sent: int, content_type: str, seconds: float
    ) -> None:
        if self.terse:
            self.access.info(
                "%.3f %s %s %d %d %s", time.time(), request.method, request.path, status, sent, content_type
            )
            return
        event(
            self.access,
            "access",
            method=request.method,
            path=request.path,
            status=status,
            bytes=sent,
            content_type=content_type,
            seconds=round(seconds, 6),
            client=request.client,
            token_id=request.token_id,
        )
