"""``POST /r/<runtime>/lock``: server-side locking of a requirement set for one runtime."""

from __future__ import annotations

import contextlib
import json

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from farm.context import Farm
from farm.errors import InvalidDistribution, NotFound, ResolutionImpossible
from farm.mirror.mirror import parse_requirements
from farm.runtime.lock_workers import Format, LockWorkers
from farm.runtime.locking import kept_lock
from farm.runtime.target import target_for
from index_server.errors import error_body
from index_server.media import is_json

CORS = {"Access-Control-Allow-Origin": "*"}


def lock_router(farm: Farm, workers: LockWorkers) -> APIRouter:
    router = APIRouter()

    @router.post("/r/{runtime}/lock", summary="Resolve requirements for a runtime into a pyodide-lock.json")
    async def lock(runtime: str, request: Request) -> Response:
        if runtime not in farm.settings.runtimes:
            served = ", ".join(farm.settings.runtimes)
            raise NotFound(f"runtime {runtime!r} is not served here; runtimes: {served}")
        lines, fmt = _read_body(await request.body(), request.headers.get("content-type", ""))
        requirements = parse_requirements([("request body", i + 1, line) for i, line in enumerate(lines)])
        if not requirements:
            raise InvalidDistribution('no requirements given; send {"requirements": ["name", ...]}')
        try:  # in a worker process: the resolution never holds this process's interpreter lock
            answer = await workers.lock(requirements, runtime, fmt)
        except ResolutionImpossible as exc:
            return _unlockable(exc)
        if answer.digest is None:
            return Response(answer.body, media_type=answer.media_type, headers=CORS)
        return Response(
            answer.body,
            media_type=answer.media_type,
            headers={
                **CORS,
                "X-Lock-Digest": answer.digest,
                "Access-Control-Expose-Headers": "X-Lock-Digest",
            },
        )

    @router.get("/r/{runtime}/lock/{digest}", summary="A lock this server made before, by its sha256")
    async def kept(runtime: str, digest: str) -> Response:
        if runtime not in farm.settings.runtimes:
            raise NotFound(
                f"runtime {runtime[:40]!r} is not served here; runtimes: {', '.join(farm.settings.runtimes)}"
            )
        data = await run_in_threadpool(kept_lock, digest, farm.blobs, target_for(runtime))
        return Response(
            data,
            media_type="application/json",
            headers={**CORS, "X-Lock-Digest": digest, "Cache-Control": "public, max-age=31536000, immutable"},
        )

    return router


def _unlockable(exc: ResolutionImpossible) -> Response:
    """422 with the explanation, and the compat page of each requirement that could not be met (the editor links
    them: what upstream has of it, whether the farm can build it)."""
    names = []
    for text, _parent in exc.unsatisfied:
        with contextlib.suppress(InvalidRequirement):
            name = canonicalize_name(Requirement(text).name)
            if name not in names:
                names.append(name)
    compat = [{"project": n, "url": f"/compat/{n}"} for n in names]
    body = {**json.loads(error_body(exc, 422)), "compat": compat}
    return Response(json.dumps(body), status_code=422, media_type="application/json", headers=CORS)


def _read_body(body: bytes, content_type: str) -> tuple[list[str], Format]:
    """JSON ``{"requirements": [...], "format": "pyodide-lock"|"pylock"}``, or requirement lines as plain text."""
    if is_json(content_type):
        try:
            data = json.loads(body)
            requirements = data["requirements"]
            fmt = data.get("format", "pyodide-lock")
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise InvalidDistribution(
                'the body must be JSON like {"requirements": ["msgpack>=1"], "format": "pyodide-lock"}'
            ) from exc
        if not isinstance(requirements, list) or not all(isinstance(r, str) for r in requirements):
            raise InvalidDistribution("'requirements' must be a list of strings")
        if fmt not in ("pyodide-lock", "pylock"):
            raise InvalidDistribution(f"format {fmt!r} is not offered; use 'pyodide-lock' or 'pylock'")
        return [r.strip() for r in requirements if r.strip()], fmt
    text = body.decode("utf-8", "replace")
    return [
        line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()
    ], "pyodide-lock"
