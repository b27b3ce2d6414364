"""``/r/<runtime>/-/``: what the mirror serves for a runtime, asked by the editor's requirements box. Completion of
project names (``projects?q=``) and the project that provides each import name (``imports?module=``). Thin: parse,
ask ``farm.runtime.lock_index``, return JSON.

Paths under ``/r/<runtime>/-/`` are the API's (``-`` is no index page), so the static index leaves them alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from anyio import from_thread
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from farm.context import Farm
from farm.errors import NotFound
from farm.runtime.lock_index import (
    MAX_LIMIT,
    MAX_TEXT,
    LockIndex,
    PublishedLocks,
    import_names,
    name_prefix,
)
from farm.runtime.lock_workers import LockWorkers

# Answers follow the mirror: a browser may keep one briefly, a shared cache as briefly.
HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "max-age=30",
}


def packages_router(farm: Farm, workers: LockWorkers) -> APIRouter:
    router = APIRouter()

    def make(version: str, stdlib: Path | None) -> LockIndex:
        # Called in a thread of the pool the routes run in: the index is made in a lock worker process, whose work
        # (a lock of the whole catalog) never holds this process's interpreter lock.
        return from_thread.run(workers.index, version, stdlib)

    locks = PublishedLocks(farm.runtimes, farm.catalog.change_marker, make=make)

    def served(runtime: str) -> str:
        if runtime not in farm.settings.runtimes:
            raise NotFound(
                f"runtime {runtime!r} is not served here; runtimes: {', '.join(farm.settings.runtimes)}"
            )
        return runtime

    @router.get(
        "/r/{runtime}/-/projects", summary="Project names for a requirement, by the start of the name"
    )
    def projects(
        runtime: str,
        q: str = Query("", max_length=MAX_TEXT),
        limit: int = Query(10, ge=1, le=MAX_LIMIT),
    ) -> JSONResponse:
        prefix = name_prefix(q)
        found = locks.index(served(runtime)).complete(prefix, limit)
        body = {"runtime": runtime, "q": prefix, "projects": [{"name": n, "version": v} for n, v in found]}
        return JSONResponse(body, headers=HEADERS)

    @router.get("/r/{runtime}/-/imports", summary="The project that provides each import name, if any")
    def imports(runtime: str, module: Annotated[list[str] | None, Query()] = None) -> JSONResponse:
        modules = import_names(module or [])
        providers = locks.index(served(runtime)).provide(modules)
        body = {"runtime": runtime, "imports": [p.to_json() for p in providers]}
        return JSONResponse(body, headers=HEADERS)

    return router
