"""``POST /api/files/<filename>/{yank,unyank,delete}`` and ``POST /api/projects/<project>/<version>/{...}``.

Authenticated like uploads (HTTP Basic with user ``__token__``, or ``Authorization: Bearer``): an admin token acts on
any file, an upload token on the uploaded files of the projects it is restricted to (``farm.curation.policy``). The
body is optional JSON: ``{"reason": "..."}``. The answer lists every file of the target with its new state.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from farm.audit.trail import Actor
from farm.context import Farm
from farm.curation.curator import Curator, Outcome, curator_for
from farm.curation.policy import Verb
from farm.errors import BadRequest
from farm.store.models import DistFile, TokenScope
from index_server.auth import token_from_authorization

MAX_BODY = 16 * 1024
VERBS = ", ".join(v.value for v in Verb)


def curation_router(farm: Farm) -> APIRouter:
    router = APIRouter()
    curator = curator_for(farm)

    @router.post(
        "/api/files/{filename}/{verb}",
        summary="Yank, un-yank or delete one file (admin token, or an upload token restricted to its project)",
    )
    async def file_action(filename: str, verb: str, request: Request) -> JSONResponse:
        action = _verb(verb)
        actor, reason = await _authorised(farm, request)
        target, rows = await run_in_threadpool(curator.file, filename)
        return await _act(curator, action, target, rows, actor, reason)

    @router.post(
        "/api/projects/{project}/{version}/{verb}",
        summary="Yank, un-yank or delete every file of a release (all or nothing)",
    )
    async def release_action(project: str, version: str, verb: str, request: Request) -> JSONResponse:
        action = _verb(verb)
        actor, reason = await _authorised(farm, request)
        target, rows = await run_in_threadpool(curator.release, project, version)
        return await _act(curator, action, target, rows, actor, reason)

    return router


def _verb(text: str) -> Verb:
    try:
        return Verb(text)
    except ValueError:
        raise BadRequest(f"{text[:40]!r} is no action here; POST one of: {VERBS}") from None


async def _authorised(farm: Farm, request: Request) -> tuple[Actor, object]:
    """The acting token (scope upload or admin; ownership is checked per file) and the body's reason."""
    token = token_from_authorization(request.headers.get("authorization"))
    info = await run_in_threadpool(farm.tokens.verify, token, TokenScope.UPLOAD)
    body = await _body(request)
    return Actor.for_token(info, request.client.host if request.client else None), body.get("reason")


async def _body(request: Request) -> dict[str, Any]:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise BadRequest(
                f'the request body is larger than {MAX_BODY} bytes; send at most {{"reason": ...}}'
            )
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest('the request body is not JSON; send {"reason": "..."} or nothing') from None
    if not isinstance(body, dict):
        raise BadRequest('the request body must be a JSON object: {"reason": "..."}')
    unknown = sorted(set(body) - {"reason"})
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(map(repr, unknown[:5]))}; the only field is 'reason'")
    return body


async def _act(
    curator: Curator, verb: Verb, target: str, rows: list[DistFile], actor: Actor, reason: object
) -> JSONResponse:
    outcome: Outcome
    if verb is Verb.DELETE:
        outcome = await run_in_threadpool(curator.delete, target, rows, actor, reason)
    else:
        outcome = await run_in_threadpool(curator.yank, target, rows, actor, reason, undo=verb is Verb.UNYANK)
    return JSONResponse(outcome.as_dict())
