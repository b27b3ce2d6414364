"""uvicorn's httptools protocol with limits on the request head (configured by :mod:`index_server.http_limits`).

Size: bytes are counted before the parser sees them. While a header section is open (a request head, or the
trailer section of a chunked body), the parser is fed at most the bytes left of ``max_bytes``, so an oversized head
is refused after that many bytes and never held whole (httptools joins the pieces of a header in memory until the
header ends). A pipelined request that starts in the middle of a read is counted from the next read on.

Time: a head's clock runs from the connection's start, and from the first byte of each later request, to the end of
the head; one watch per connection looks at it every quarter of the timeout. The clock restarts while uvicorn itself
has stopped reading (pipelining, back-pressure): that wait is not the client's. A connection that sent nothing at
all is closed without an answer, as uvicorn closes idle kept-alive ones.

A refusal (431, 408) is written after the responses owed to earlier pipelined requests; then the connection is
half-closed and what the client still sends is read and dropped for a moment (so that it reads the answer rather
than a reset), and closed. Trailers over the limit cut the connection at once: the request they belong to cannot be
completed, and its response is owed first.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from typing import Any, ClassVar

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from index_server.http_limits import HeadLimits

log = logging.getLogger(__name__)

LINGER_SECONDS = 1.0  # how long input is drained after a refusal before the connection is closed


class _HeadRefused(Exception):
    """Raised from a parser callback to stop parsing: the refusal is already on its way."""


def limited_protocol(limits: HeadLimits) -> type[HeadLimitedProtocol]:
    """The protocol class uvicorn instantiates per connection, bound to these limits."""

    class Configured(HeadLimitedProtocol):
        head_limits = limits

    return Configured


class HeadLimitedProtocol(HttpToolsProtocol):
    head_limits: ClassVar[HeadLimits]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._max_bytes = self.head_limits.max_bytes
        self._max_fields = self.head_limits.max_fields
        self._section_open = True  # the next bytes belong to a request head (or trailers)
        self._section_bytes = 0  # bytes of the open section fed to the parser so far
        self._head_since: float | None = None  # when the head being received began (loop time); None: none is
        self._watch: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._refused = False  # a limit was hit: input is dropped until the connection closes
        self._owed: tuple[int, str] | None = None  # a refusal waiting for the responses owed before it

    # Connection ---------------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        try:  # the common cases, kept as cheap as uvicorn's own: one read, fed whole
            if not self._section_open:
                self.parser.feed_data(data)
            elif self._section_bytes + len(data) < self._max_bytes:
                self._section_bytes += len(data)
                self.parser.feed_data(data)
            else:
                self._feed_in_pieces(data)
        except httptools.HttpParserError:
            if not self._refused:  # else a callback refused the head and stopped the parser
                msg = "Invalid HTTP request received."
                self.logger.warning(msg)
                self.send_400_response(msg)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def _feed_in_pieces(self, data: bytes) -> None:
        """A read that reaches the head's limit: fed no further than the limit, then refused."""
        rest = memoryview(data)
        while rest and not self._refused:
            if self._section_open:
                room = self._max_bytes - self._section_bytes
                piece, rest = rest[:room], rest[room:]
                self._section_bytes += len(piece)
            else:
                piece, rest = rest, rest[:0]
            self.parser.feed_data(piece)
            if self._section_open and self._section_bytes >= self._max_bytes:
                self._refuse(
                    431,
                    f"the request line and headers exceed {self._max_bytes} bytes (setting max_header_bytes)",
                )

    # Parser callbacks ---------------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_since is None:  # the first request's clock has run since the connection was made
            self._head_since = self.loop.time()

    def on_headers_complete(self) -> None:
        # Counted here rather than per field (one Python call less per header): max_bytes bounds them meanwhile.
        if len(self.headers) > self._max_fields:
            self._refuse(431, f"more than {self._max_fields} header fields (setting max_header_count)")
            raise _HeadRefused
        self._section_open = False
        self._head_since = None
        super().on_headers_complete()

    def on_chunk_header(self) -> None:
        # The last chunk (size 0) is followed by trailer fields, which httptools collects like headers; any other
        # chunk by its data, which closes the section again at once.
        self._section_open = True
        self._section_bytes = 0

    def on_body(self, body: bytes) -> None:
        self._section_open = False
        super().on_body(body)

    def on_chunk_complete(self) -> None:
        self._section_open = False

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._section_open = True  # what follows is the next request's head
        self._section_bytes = 0

    # Limits -------------------------------------------------------------------------------------------------

    def _start_head_timer(self) -> None:
        """One watch per connection, every quarter of the timeout, instead of a timer per request (which cost the
        read path about 2 us a request): a slow head is cut between 1 and 1.25 timeouts after it began."""
        self._head_since = self.loop.time()
        self._watch = self.loop.call_later(self.head_limits.timeout / 4, self._check_head)

    def _cancel_head_timer(self) -> None:
        self._head_since = None
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    def _check_head(self) -> None:
        self._watch = self.loop.call_later(self.head_limits.timeout / 4, self._check_head)
        since = self._head_since
        if since is None or self.loop.time() - since < self.head_limits.timeout:
            return
        if self.flow.read_paused:  # uvicorn stopped reading: the client is not the one who is slow
            self._head_since = self.loop.time()
        elif self._section_bytes == 0:  # connected and sent nothing: close, as an idle kept-alive connection
            self._cancel_head_timer()
            self.transport.close()
        else:
            self._refuse(
                408,
                f"the request line and headers did not arrive within {self.head_limits.timeout:g} s "
                "(setting header_timeout)",
            )

    def _refuse(self, status: int, reason: str) -> None:
        self._refused = True
        self._cancel_head_timer()
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown client"
        owed = self.cycle is not None and not self.cycle.response_complete
        if owed and self.cycle.more_body:  # the trailers of the request being served: it cannot be completed
            log.warning(
                "%s: trailers over max_header_bytes or max_header_count; closing the connection", client
            )
            self.transport.close()
            return
        log.warning("%s: %d, %s; closing the connection", client, status, reason)
        if owed:  # pipelined requests before this one are answered first
            self._owed = (status, reason)
        else:
            self._answer(status, reason)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._owed is not None and self.cycle.response_complete and not self.transport.is_closing():
            self._unset_keepalive_if_required()
            self._answer(*self._owed)
            self._owed = None

    def _answer(self, status: int, reason: str) -> None:
        body = f"{status} {HTTPStatus(status).phrase}: {reason}\n".encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.flow.resume_reading()  # drain what is still coming, so the client reads the answer, not a reset
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._linger = self.loop.call_later(LINGER_SECONDS, self.transport.close)
