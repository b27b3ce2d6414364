"""Who may yank or delete what (pure policy), reasons as clients send them, and log lines in both formats."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path

import pytest

from farm.curation.policy import MAX_REASON, Verb, check_allowed, clean_reason
from farm.errors import BadRequest, PermissionDenied
from farm.ops.logs import CURRENT_REQUEST, JsonFormatter, RequestContext, RequestFilter, event
from index_server.request_log import RequestLog, access_logger

F = "demo-1.0-py3-none-any.whl"
OWNER = ("demo",)
ALLOWED = None
# verb, origin, admin, the token's projects, the refusal's words (None: allowed)
POLICY = [
    (Verb.YANK, "uploaded", True, None, ALLOWED),
    (Verb.YANK, "mirrored", True, None, ALLOWED),
    (Verb.UNYANK, "built", True, None, ALLOWED),
    (Verb.DELETE, "uploaded", True, None, ALLOWED),
    (Verb.DELETE, "mirrored", True, None, "next `wasmfarm mirror` would fetch it again"),
    (Verb.DELETE, "built", True, None, "record of a build"),
    (Verb.YANK, "uploaded", False, OWNER, ALLOWED),
    (Verb.DELETE, "uploaded", False, OWNER, ALLOWED),
    (Verb.YANK, "uploaded", False, None, "does not own project 'demo'"),  # unrestricted: owns nothing
    (Verb.YANK, "uploaded", False, ("other",), "does not own project 'demo'"),
    (Verb.YANK, "mirrored", False, OWNER, "only an admin token may yank it"),
    (Verb.DELETE, "mirrored", False, OWNER, "only uploaded files can be deleted"),
]


@pytest.mark.parametrize(("verb", "origin", "admin", "projects", "refusal"), POLICY)
def test_policy(
    verb: Verb, origin: str, admin: bool, projects: tuple[str, ...] | None, refusal: str | None
) -> None:
    def decide() -> None:
        check_allowed(verb, F, origin, "demo", admin=admin, projects=projects, who="token 7 (wf_x…)")

    if refusal is None:
        decide()
    else:
        with pytest.raises(PermissionDenied, match=re.escape(refusal)):
            decide()


def test_reasons() -> None:
    assert clean_reason(None) is None
    assert clean_reason("  ") is None
    assert clean_reason(" broken on 3.14 ") == "broken on 3.14"
    assert clean_reason("x" * MAX_REASON) == "x" * MAX_REASON
    for bad, words in ((["x"], "must be text"), ("a\x00b", "control character"), ("x" * 501, "at most 500")):
        with pytest.raises(BadRequest, match=words):
            clean_reason(bad)


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("farm.test", logging.INFO, __file__, 1, message, (), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_lines_carry_the_event_the_request_and_tracebacks_on_one_line(caplog) -> None:
    logger = logging.getLogger("farm.test.events")
    with caplog.at_level(logging.INFO, logger="farm.test.events"):
        event(logger, "yank", target=F, reason='two words "quoted"', token_id=None)
    (record,) = caplog.records
    assert record.getMessage() == f'yank target={F} reason="two words \\"quoted\\"" token_id=-'
    token = CURRENT_REQUEST.set(RequestContext("POST", "/api/x", "10.0.0.1", token_id=3))
    try:
        RequestFilter().filter(record)
    finally:
        CURRENT_REQUEST.reset(token)
    line = JsonFormatter().format(record)
    document = json.loads(line)
    assert document["event"] == "yank" and document["target"] == F and document["token_id"] is None
    assert document["request"] == {"method": "POST", "path": "/api/x", "client": "10.0.0.1", "token_id": 3}
    assert document["level"] == "info" and document["time"].endswith("+00:00")
    try:
        raise ValueError("line one\nline two")
    except ValueError:
        import sys

        failing = logging.LogRecord("farm.test", logging.ERROR, __file__, 1, "bad\nthing", (), sys.exc_info())
    line = JsonFormatter().format(failing)
    assert "\n" not in line
    assert "line two" in json.loads(line)["exception"] and json.loads(line)["message"] == "bad\nthing"
    assert "event" not in json.loads(JsonFormatter().format(_record("plain")))


async def _app(scope: dict, receive: object, send) -> None:
    await send(
        {"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"text/plain; x=1")]}
    )
    await send({"type": "http.response.body", "body": b"hello"})


def _request(app: RequestLog) -> None:
    scope = {"type": "http", "method": "GET", "path": "/simple/", "client": ("127.0.0.1", 5)}

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(_message: dict) -> None:
        return None

    asyncio.run(app(scope, receive, send))


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_access_log_file(tmp_path: Path, log_format: str) -> None:
    path = tmp_path / "logs" / "access.log"
    logger, terse = access_logger(path, log_format)  # type: ignore[arg-type]
    assert logger is not None
    _request(RequestLog(_app, logger, terse))
    for handler in logger.handlers:
        handler.flush()
    (line,) = path.read_text().splitlines()
    if (
        log_format == "text"
    ):  # the historical line: <unix time> <method> <path> <status> <bytes> <content type>
        stamp, *rest = line.split()
        assert float(stamp) > 0 and rest == ["GET", "/simple/", "201", "5", "text/plain"]
    else:
        document = json.loads(line)
        assert (document["event"], document["status"], document["bytes"], document["client"]) == (
            "access",
            201,
            5,
            "127.0.0.1",
        )
