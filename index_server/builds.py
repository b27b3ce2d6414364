"""``/builds`` and ``/builds/<id>``: the build farm on the web (state, checks, verification, a live log) and
``POST /builds/<id>/rebuild`` (admin token). JSON at the same URLs with ``?format=json``."""

from __future__ import annotations

import json
import time
from html import escape
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from farm.audit.trail import Action, Actor, AuditTrail
from farm.auth.tokens import TokenInfo
from farm.build.jobs import Jobs
from farm.build.state import BUILD
from farm.context import Farm
from farm.errors import NotFound
from farm.recipe.loader import Problem, load_recipes
from farm.store.models import Build, BuildState, TokenScope
from farm.verify import outcomes
from index_server.auth import token_from_authorization

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1b1f24}table{border-collapse:collapse}
td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.succeeded{color:#116329}.failed{color:#b3261e}.running,.queued,.warning{color:#7a5200}
pre{background:#f6f8fa;padding:1rem;max-height:60vh;overflow:auto;white-space:pre-wrap}
"""


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>",
        headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; script-src 'self'"
        },
    )


def _row(build: Build) -> dict[str, Any]:
    data = build.model_dump(mode="json")
    for key in ("checks", "verification"):
        data[key] = json.loads(data[key]) if data[key] else None
    return data


class _RecipeProblems:
    """What the linter says about the recipe directories (recipes that are not built, and why), recomputed at
    most every ``ttl`` seconds: reading a few hundred meta.yaml files per page view would be wasteful."""

    def __init__(self, farm: Farm, ttl: float = 30.0) -> None:
        self.farm = farm
        self.ttl = ttl
        self._at = -ttl
        self._problems: list[Problem] = []

    def __call__(self) -> list[Problem]:
        if time.monotonic() - self._at >= self.ttl:
            self._problems = load_recipes(*self.farm.settings.recipe_dirs)[1]
            self._at = time.monotonic()
        return self._problems


def builds_router(farm: Farm, jobs: Jobs) -> APIRouter:
    router = APIRouter()
    states = farm.builds
    recipe_problems = _RecipeProblems(farm)
    trail = AuditTrail(farm.engine)

    def _get(build_id: int) -> Build:
        build = states.get(build_id)
        if build is None:
            raise NotFound(f"no build {str(build_id)[:30]}; /builds lists them")
        return build

    @router.get("/builds", summary="Recent builds")
    def list_builds(format: str = Query("html"), limit: int = Query(100, ge=1, le=1000)) -> Response:
        rows = states.recent(limit=limit)
        if format == "json":
            return JSONResponse([_row(b) for b in rows])
        lines = "".join(
            f"<tr><td><a href='/builds/{b.id}'>{b.id}</a></td><td>{escape(b.recipe)}</td><td>{escape(b.version)}"
            f"</td><td>{escape(b.runtime)}</td><td class='{escape(b.state)}'>{escape(b.state)}</td>"
            f"<td>{escape(b.step)}</td><td>{b.attempts}</td><td>{escape(b.worker or '')}</td>"
            f"<td>{b.build_seconds or ''}</td><td>{escape(b.wheel_filename or '')}</td></tr>"
            for b in rows
        )
        head = "<tr><th>id</th><th>recipe</th><th>version</th><th>runtime</th><th>state</th><th>step</th>"
        head += "<th>attempts</th><th>worker</th><th>build s</th><th>wheel</th></tr>"
        problems = "".join(
            f"<li><code>{escape(p.file.parent.name)}</code>: {escape(str(p))}</li>" for p in recipe_problems()
        )
        refused = (
            f"<h2>Recipes not built</h2><p>A recipe with a problem, and every recipe that needs it, is left out "
            f"(`wasmfarm recipes lint` says the same):</p><ul id='not-built'>{problems}</ul>"
            if problems
            else ""
        )
        return _page("builds", f"<h1>Builds</h1><table>{head}{lines}</table>{refused}")

    @router.get("/builds/{build_id}", summary="One build: state, checks, verification, log")
    def show_build(build_id: int, format: str = Query("html")) -> Response:
        build = _get(build_id)
        if format == "json":
            return JSONResponse(_row(build))
        data = _row(build)
        checks = "".join(
            f"<tr><td>{escape(c['check'])}</td><td class='{_check_class(c)}'>"
            f"{_check_class(c).replace('succeeded', 'ok')}</td><td>{escape(c['detail'])}</td></tr>"
            for c in (data["checks"] or {}).get("results", [])
        )
        verified = _verification(data["verification"] or {})
        facts = "".join(
            f"<tr><th>{k}</th><td>{escape(str(data[k]))}</td></tr>"
            for k in ("recipe", "version", "runtime", "state", "step", "attempts", "worker", "builder", "key",
                      "created_at", "started_at", "finished_at", "build_seconds", "wheel_filename", "error")
            if data[k] not in (None, "")
        )  # fmt: skip
        body = (
            f"<p><a href='/builds'>all builds</a></p><h1>Build {build.id}: {escape(build.recipe)} "
            f"{escape(build.version)}</h1><table id='facts' data-build='{build.id}' data-state='{escape(build.state)}'>"
            f"{facts}</table><h2>Checks</h2><table>{checks or '<tr><td>not yet</td></tr>'}</table>"
            f"<h2>Verification in Pyodide</h2>{verified or '<table><tr><td>not yet</td></tr></table>'}"
            "<h2>Log</h2><pre id='log'></pre>"
            "<h2>Rebuild</h2><form id='rebuild'><input id='token' type='password' placeholder='admin token' "
            "autocomplete='off'> <button>Rebuild</button> <span id='rebuild-result'></span></form>"
            "<script src='/builds-assets/build.js'></script>"
        )
        return _page(f"build {build.id}", body)

    @router.get("/builds-assets/build.js", include_in_schema=False)
    def build_js() -> Response:
        return Response(_SCRIPT, media_type="text/javascript")

    @router.get("/builds/{build_id}/log", summary="The build's log from a byte offset (poll for a live log)")
    def build_log(build_id: int, offset: int = Query(0, ge=0, le=2**62)) -> Response:
        build = _get(build_id)
        path = farm.settings.data_dir / "builds" / str(build_id) / "build.log"
        chunk = b""
        if path.is_file():
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read(1 << 20)
        return PlainTextResponse(
            chunk.decode("utf-8", "replace"),
            headers={"X-Log-Offset": str(offset + len(chunk)), "X-Build-State": build.state},
        )

    @router.post("/builds/{build_id}/rebuild", summary="Build the same recipe again (admin token)")
    async def rebuild(build_id: int, request: Request) -> JSONResponse:
        token = token_from_authorization(request.headers.get("authorization"))
        info = await run_in_threadpool(farm.tokens.verify, token, TokenScope.ADMIN)
        old = await run_in_threadpool(_get, build_id)
        new = await run_in_threadpool(
            states.create, old.recipe, old.version, old.runtime, old.key, old.builder
        )
        assert new.id is not None
        await run_in_threadpool(
            trail.record, Action.BUILD_REBUILD, f"build {build_id}", _actor(info, request), new_build=new.id
        )
        await run_in_threadpool(jobs.send, new.id, BUILD)
        return JSONResponse(
            {"id": new.id, "url": f"/builds/{new.id}", "state": BuildState.QUEUED}, status_code=202
        )

    @router.post("/builds/{build_id}/cancel", summary="Cancel a queued or running build (admin token)")
    async def cancel(build_id: int, request: Request) -> JSONResponse:
        token = token_from_authorization(request.headers.get("authorization"))
        info = await run_in_threadpool(farm.tokens.verify, token, TokenScope.ADMIN)
        build = await run_in_threadpool(_get, build_id)
        cancelled = await run_in_threadpool(states.cancel, build_id)
        if cancelled:
            await run_in_threadpool(
                trail.record, Action.BUILD_CANCEL, f"build {build_id}", _actor(info, request)
            )
        state = BuildState.CANCELLED if cancelled else build.state
        return JSONResponse({"id": build_id, "state": state, "cancelled": cancelled})

    return router


def _actor(token: TokenInfo, request: Request) -> Actor:
    return Actor.for_token(token, request.client.host if request.client else None)


_SCRIPT = """
const facts = document.getElementById("facts");
const id = facts.dataset.build;
const logBox = document.getElementById("log");
let offset = 0;
async function poll() {
  const response = await fetch(`/builds/${id}/log?offset=${offset}`);
  const text = await response.text();
  offset = Number(response.headers.get("X-Log-Offset"));
  if (text) { logBox.textContent += text; logBox.scrollTop = logBox.scrollHeight; }
  const state = response.headers.get("X-Build-State");
  if (state !== facts.dataset.state) { location.reload(); return; }
  if (state === "queued" || state === "running") setTimeout(poll, 1000);
}
poll();
document.getElementById("rebuild").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = document.getElementById("token").value;
  const response = await fetch(`/builds/${id}/rebuild`, {method: "POST", headers: {Authorization: `Bearer ${token}`}});
  const body = await response.json();
  const result = document.getElementById("rebuild-result");
  if (response.ok) { location.href = body.url; }
  else { result.textContent = body.message || body.detail || response.status; }
});
"""


def _check_class(result: dict[str, Any]) -> str:
    if not result["ok"]:
        return "failed"
    return "warning" if result.get("warning") else "succeeded"


_OUTCOME_CLASS = {"passed": "succeeded", "skipped": "warning", "failed": "failed", "error": "failed"}


def _verification(verification: dict[str, Any]) -> str:
    """The imports, then the recipe's tests: counts and a row per test with its message. Reports of builds made
    before tests had outcomes (``{name: "ok" | traceback}``) are shown as passed or failed."""
    if not verification:
        return ""
    imports = "".join(
        f"<tr><td>import {escape(name)}</td><td class='{'succeeded' if r == 'ok' else 'failed'}'>"
        f"{'ok' if r == 'ok' else '<pre>' + escape(r) + '</pre>'}</td></tr>"
        for name, r in verification.get("imports", {}).items()
    )
    html = f"<table id='imports'>{imports or '<tr><td>no module imported</td></tr>'}</table>"
    if verification.get("error"):
        html += f"<pre class='failed'>{escape(str(verification['error']))}</pre>"
    tests = {
        nodeid: r if isinstance(r, dict) else {"outcome": "passed" if r == "ok" else "failed", "message": r}
        for nodeid, r in verification.get("tests", {}).items()
    }
    counts = outcomes.summary(tests)
    html += (
        f"<h3>Tests</h3><p id='test-summary'>{counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped, {counts['error']} errors</p>"
    )
    rows = "".join(
        f"<tr><td>{escape(nodeid)}</td><td class='{_OUTCOME_CLASS.get(r['outcome'], 'failed')}'>"
        f"{escape(r['outcome'])}</td><td>{r.get('seconds', '')}</td><td>"
        f"{'<pre>' + escape(str(r['message'])) + '</pre>' if r.get('message') and r['message'] != 'ok' else ''}"
        "</td></tr>"
        for nodeid, r in tests.items()
    )
    if rows:
        html += f"<table id='tests'><tr><th>test</th><th>outcome</th><th>s</th><th>message</th></tr>{rows}</table>"
    return html
