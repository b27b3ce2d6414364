"""The editor (``/editor``), app mode (``/app``), their service worker and assets (``/runner/``).

Editor pages are cross-origin isolated (COOP/COEP), which gives the Pyodide worker a SharedArrayBuffer to interrupt
running code with. App mode may be embedded in iframes from the configured origins.

Every page carries a Content-Security-Policy fitted to what it runs (see docs/security.md). The editor page runs
only this server's scripts and keeps the user's secrets; user code runs in a worker, whose policy comes from the
worker script's own response. App mode, the sandboxed output frames and every other page under ``/runner/`` get a
``sandbox`` directive without ``allow-same-origin``: their documents have an opaque origin, so code in them cannot
read the editor's storage. Assets under ``/runner/`` are therefore served to any origin (CORS and CORP).
"""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from farm.errors import NotFound
from farm.settings import Settings

ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
# Opaque-origin documents (app mode, output frames, the smoke page) load these cross-origin: module scripts in CORS
# mode, styles and classic scripts under COEP require-corp.
SHARED = {"Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin"}
OPAQUE = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"
# Pyodide compiles its WebAssembly from fetched bytes ('wasm-unsafe-eval'); 'unsafe-eval' only keeps js.eval and
# pyodide.code.run_js working for user code, which reaches every JS API through Pyodide's FFI anyway.
PYODIDE = "'self' 'wasm-unsafe-eval' 'unsafe-eval'"
PAGE = {"style-src": "'self' 'unsafe-inline'", "img-src": "'self' data: blob:", "connect-src": "'self'"}


def policy(directives: dict[str, str], sandbox: str | None = None) -> str:
    """A Content-Security-Policy value; plugins, <base> and form submissions are always off."""
    directives = {**directives, "object-src": "'none'", "base-uri": "'none'", "form-action": "'none'"}
    return "; ".join(
        [*([sandbox] if sandbox else []), *(f"{name} {value}" for name, value in directives.items())]
    )


# The editor page keeps the user's secrets: this server's scripts only; Python runs in the worker, HTML output in
# sandboxed frames (served from /runner/editor/output.html).
EDITOR_CSP = policy(
    {"default-src": "'self'", "script-src": "'self'", **PAGE, "worker-src": "'self'", "frame-src": "'self'",
     "frame-ancestors": "'self'"}
)  # fmt: skip
# The worker, where user code runs: Pyodide, this server and its proxy; no nested workers.
WORKER_CSP = policy({"default-src": "'self'", "script-src": PYODIDE, "worker-src": "'none'"})
# One HTML output of a program: its own inline scripts and styles, no network at all.
OUTPUT_CSP = policy(
    {"default-src": "'none'", "script-src": "'self' 'unsafe-inline' 'unsafe-eval'", "style-src": "'unsafe-inline'",
     "img-src": "data: blob:", "font-src": "data:", "media-src": "data: blob:", "frame-ancestors": "'self'"},
    sandbox="sandbox allow-scripts",
)  # fmt: skip
# Any other page under /runner/ (the smoke page, an inline module script): opaque origin, Pyodide from this server.
RUNNER_CSP = policy(
    {
        "default-src": "'self'",
        "script-src": f"{PYODIDE} 'unsafe-inline'",
        **PAGE,
        "frame-ancestors": "'self'",
    },
    sandbox=OPAQUE,
)
SERVICE_WORKER_CSP = policy({"default-src": "'self'"})


def app_policy(frame_ancestors: str) -> str:
    """App mode: Pyodide on the page thread of an opaque-origin document, embeddable by the configured origins."""
    return policy(
        {"default-src": "'self'", "script-src": PYODIDE, **PAGE, "frame-ancestors": frame_ancestors},
        sandbox=OPAQUE,
    )


def runner_headers(path: str) -> dict[str, str]:
    """Headers of an asset under /runner/ (a policy only matters for documents and workers)."""
    csp = {"/runner/editor/worker.js": WORKER_CSP, "/runner/editor/output.html": OUTPUT_CSP}.get(
        path, RUNNER_CSP
    )
    return {**ISOLATION, **NOSNIFF, **SHARED, "Content-Security-Policy": csp}


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

    @api.get("/editor", response_class=HTMLResponse, include_in_schema=False)
    def editor() -> HTMLResponse:
        headers = {**ISOLATION, **NOSNIFF, "Content-Security-Policy": EDITOR_CSP}
        return HTMLResponse(page("index.html"), headers=headers)

    @api.get("/app", response_class=HTMLResponse, include_in_schema=False)
    def app() -> HTMLResponse:
        headers = {
            **ISOLATION,
            **NOSNIFF,
            "Content-Security-Policy": app_policy(frame_ancestors),
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        return HTMLResponse(page("app.html"), headers=headers)

    @api.get("/sw.js", include_in_schema=False)
    def service_worker() -> Response:
        return Response(
            (web / "sw.js").read_bytes(),
            media_type="text/javascript",
            headers={
                "Cache-Control": "no-cache",
                "Service-Worker-Allowed": "/",
                "Content-Security-Policy": SERVICE_WORKER_CSP,
                **ISOLATION,
                **NOSNIFF,
            },
        )

    api.mount("/runner", RunnerAssets(directory=web, html=True), name="runner")


class RunnerAssets(StaticFiles):
    """``/runner/``: the static assets, each with its headers. (Set here, not by an HTTP middleware: Starlette's
    BaseHTTPMiddleware wraps every request of the app, and turns an error raised while a body streams, such as the
    upload cap, into a 500.)"""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(runner_headers(f"/runner/{path}"))
        return response
