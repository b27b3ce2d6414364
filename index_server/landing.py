"""``/``: what this server hosts, for people; ``/favicon.ico``; and the choice between HTML and JSON errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import Headers

from farm.context import Farm
from farm.errors import NotFound
from farm.overview.facts import read_overview
from farm.overview.pages import render_landing
from index_server.editor import NOSNIFF, policy

PAGE_CSP = policy(
    {"default-src": "'self'", "script-src": "'self'", "style-src": "'unsafe-inline'", "img-src": "'self'",
     "frame-ancestors": "'self'"}
)  # fmt: skip
ICONS = {"favicon.ico": "image/x-icon", "favicon.svg": "image/svg+xml"}


def landing_router(farm: Farm) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    web = farm.settings.runner_assets_dir / "web"

    @router.get("/", response_class=HTMLResponse)
    async def landing() -> HTMLResponse:
        overview = await run_in_threadpool(read_overview, farm.engine, farm.runtimes, farm.settings.runtimes)
        headers = {**NOSNIFF, "Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"}
        return HTMLResponse(render_landing(overview), headers=headers)

    for name, media_type in ICONS.items():
        router.add_api_route(f"/{name}", _icon(web / name, media_type), methods=["GET"])
    return router


def _icon(path: Path, media_type: str) -> Callable[[], Response]:
    def icon() -> Response:
        if not path.is_file():
            raise NotFound(f"{path} is missing: it ships with wasmfarm in runner_assets/web")
        headers = {
            **NOSNIFF,
            "Cache-Control": "public, max-age=86400",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        return Response(path.read_bytes(), media_type=media_type, headers=headers)

    return icon


# Browsers navigating to a page get HTML errors; API, pip, uv and micropip clients keep JSON. A navigation says so
# with Sec-Fetch-Dest (every current browser sends it); without it, an Accept that puts text/html first beside
# application/xhtml+xml, as browsers do and index clients (which put their JSON types first) never do.
def wants_html(headers: Headers) -> bool:
    dest = headers.get("sec-fetch-dest")
    if dest is not None:
        return dest in ("document", "iframe")
    accept = headers.get("accept", "")
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return bool(kinds) and kinds[0] == "text/html" and "application/xhtml+xml" in kinds
