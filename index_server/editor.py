"""The editor (``/``), app mode (``/app``), their service worker and assets (``/runner/``).

Editor pages are cross-origin isolated (COOP/COEP), which gives the Pyodide worker a SharedArrayBuffer to interrupt
running code with. App mode may be embedded in iframes from the configured origins.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from farm.errors import NotFound
from farm.settings import Settings

ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}


def mount_editor(api: FastAPI, settings: Settings) -> None:
    web = settings.runner_assets_dir / "web"
    if not web.is_dir():
        return
    config = json.dumps({"runtimes": settings.runtimes, "serviceWorker": "sw.js", "scope": "./"})
    frame_ancestors = " ".join(["'self'", *settings.app_embed_origins])

    def page(name: str) -> str:
        path = web / name
        if not path.is_file():
            raise NotFound(
                f"{path} is missing: the editor assets are built by `make serve` (ci/build-assets.sh)"
            )
        return path.read_text().replace("__WASMFARM_CONFIG__", config.replace("</", "<\\/"))

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    def editor() -> HTMLResponse:
        return HTMLResponse(
            page("index.html"), headers={**ISOLATION, "Content-Security-Policy": "frame-ancestors 'self'"}
        )

    @api.get("/app", response_class=HTMLResponse, include_in_schema=False)
    def app() -> HTMLResponse:
        headers = {
            **ISOLATION,
            "Content-Security-Policy": f"frame-ancestors {frame_ancestors}",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        return HTMLResponse(page("app.html"), headers=headers)

    @api.get("/sw.js", include_in_schema=False)
    def service_worker() -> Response:
        return Response(
            (web / "sw.js").read_bytes(),
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/", **ISOLATION},
        )

    api.mount("/runner", StaticFiles(directory=web, html=True), name="runner")

    @api.middleware("http")
    async def isolate_assets(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        if request.url.path.startswith("/runner/"):
            response.headers.update(ISOLATION)
        return response
