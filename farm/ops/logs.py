"""Log lines: plain text for a person at a terminal, or one JSON object a line for a log pipeline (setting
``log_format``).

Events (an upload, a token use, an admin action, a request in the access log) are ordinary log records with two
extras: ``event`` (a short name) and ``fields`` (a flat mapping). The text formatter writes them as
``name key=value ...``; the JSON formatter puts the fields beside ``time``, ``level``, ``logger`` and ``message``.
Every record logged while a request is served also carries that request (method, path, client address) from a
context variable the HTTP layer sets, so a token use or an error names the route it happened on.

The JSON formatter is hand-rolled on :mod:`json` (a few lines; no JSON logging library is a dependency here).
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(slots=True)
class RequestContext:
    """The request being served: set by the HTTP layer, read by every log record made while it runs."""

    method: str
    path: str
    client: str | None
    token_id: int | None = None  # set when a token is verified for this request
    token_scope: str | None = None


CURRENT_REQUEST: ContextVar[RequestContext | None] = ContextVar("wasmfarm_request", default=None)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event: ``name`` and its fields (values are made JSON-safe by the formatter)."""
    if logger.isEnabledFor(level):
        text = " ".join(f"{key}={_text_value(value)}" for key, value in fields.items())
        logger.log(level, "%s %s", name, text, extra={"event": name, "fields": fields})


def _text_value(value: object) -> str:
    text = "-" if value is None else str(value)
    return (
        json.dumps(text, ensure_ascii=False)
        if (not text or any(c.isspace() or c == '"' for c in text))
        else text
    )


class RequestFilter(logging.Filter):
    """Adds the current request (if any) to a record, for both formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = CURRENT_REQUEST.get()
        if request is not None and not hasattr(record, "request"):
            record.request = {
                "method": request.method,
                "path": request.path,
                "client": request.client,
                **({"token_id": request.token_id} if request.token_id is not None else {}),
            }
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, event and its fields, the request,
    the exception's traceback. Never more than one line: newlines inside values are escaped by JSON."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        name = getattr(record, "event", None)
        if isinstance(name, str):
            document["event"] = name
            fields = getattr(record, "fields", None)
            if isinstance(fields, dict):
                for key, value in fields.items():
                    document.setdefault(str(key), value)
        request = getattr(record, "request", None)
        if isinstance(request, dict):
            document["request"] = request
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        return json.dumps(document, default=str, ensure_ascii=False)


def formatter_for(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(verbose: bool = False, log_format: LogFormat = "text") -> None:
    """The root logger writes to stderr in the chosen format (called again once the settings are known). Like
    ``logging.basicConfig``, text logging leaves a root logger alone that someone else configured (a test runner)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "wasmfarm", False)]
    if log_format == "text" and root.handlers and not ours:
        return
    for handler in ours:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.wasmfarm = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter_for(log_format))
    handler.addFilter(RequestFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.captureWarnings(log_format == "json")  # a warning printed raw would be a line that is not JSON


def logging_json() -> bool:
    """Whether stderr carries JSON lines now (then a command's error is logged as one too)."""
    return any(
        getattr(h, "wasmfarm", False) and isinstance(h.formatter, JsonFormatter)
        for h in logging.getLogger().handlers
    )


def file_logger(name: str, path: str, log_format: LogFormat) -> logging.Logger:
    """A logger of its own writing to a file (the access log), in the chosen format, not passed to the root."""
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return logger
