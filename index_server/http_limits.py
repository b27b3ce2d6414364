"""How ``wasmfarm serve`` runs uvicorn: the one place its HTTP server is configured, for production and tests alike.

The request head (request line and headers) is capped in size (``max_header_bytes``) and number of fields
(``max_header_count``) and must arrive within ``header_timeout``: a client that sends megabytes of headers, or
sends them a byte at a time to hold connections open (slowloris), is answered 431 or 408 and cut off. The limits
are enforced by :mod:`index_server.head_limited_protocol`, a subclass of uvicorn's httptools protocol. Without
httptools uvicorn falls back to h11, which caps the head size (answering 400) but has no header timeout.
Request bodies are not limited here: uploads stream, and their size is checked by the upload route.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from farm.settings import Settings

if TYPE_CHECKING:
    from index_server.app import ASGIApp

log = logging.getLogger(__name__)

KEEP_ALIVE_SECONDS = 5  # idle time allowed between two requests on one connection (uvicorn's default)


@dataclass(frozen=True)
class HeadLimits:
    max_bytes: int  # request line and headers, as sent
    max_fields: int
    timeout: float  # seconds from connecting, or from the next request's first byte, to the end of its head

    @classmethod
    def from_settings(cls, settings: Settings) -> HeadLimits:
        return cls(settings.max_header_bytes, settings.max_header_count, settings.header_timeout)


def server_config(app: ASGIApp, settings: Settings) -> uvicorn.Config:
    """The uvicorn configuration of ``wasmfarm serve``: address, head limits, log level, no access log, and the
    reverse proxies whose forwarded headers name the client."""
    limits = HeadLimits.from_settings(settings)
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=http_protocol(limits),
        h11_max_incomplete_event_size=limits.max_bytes,  # the cap h11 applies if it is the protocol
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        lifespan="on",  # a failing startup stops the server instead of serving without it
        log_level="warning",
        access_log=False,  # the app writes its own (setting access_log)
        proxy_headers=bool(settings.forwarded_allow_ips.strip()),
        forwarded_allow_ips=settings.forwarded_allow_ips,
        # JSON logs: uvicorn's loggers pass their records to the root logger's JSON handler instead of printing text
        log_config=None if settings.log_format == "json" else LOGGING_CONFIG,
    )


def http_protocol(limits: HeadLimits) -> type[asyncio.Protocol] | str:
    try:
        from index_server.head_limited_protocol import limited_protocol
    except ImportError:
        log.warning(
            "httptools is not installed: uvicorn uses h11, which caps request heads at %d bytes "
            "(answering 400) but does not enforce header_timeout; install httptools (uvicorn[standard])",
            limits.max_bytes,
        )
        return "h11"
    return limited_protocol(limits)
