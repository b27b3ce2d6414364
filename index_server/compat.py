"""``/compat``: "Does X work on Pyodide?" on the web. The summary and one project's page (HTML, or JSON with
``?format=json``), a badge, completion for the search box, and the actions (check now, build it, mirror it, scan a
list) that run as background tasks the page polls (``farm.compat.tasks``). Thin: parse, admit, call the domain.

Paths under ``/compat/-/`` are the page's own (``-`` starts no project name); ``/compat/<project>`` is a project.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from packaging.requirements import Requirement

from farm.build.jobs import Jobs
from farm.build.state import BUILD
from farm.compat.admission import RequestPolicy
from farm.compat.badge import badge_for, render_svg
from farm.compat.documents import Site, project_document, project_url, summary_document
from farm.compat.listing import CheckListing, TableQuery
from farm.compat.pages import render_project, render_summary
from farm.compat.scan_jobs import ScanJobs
from farm.compat.service import compat_sessions, scan_jobs
from farm.compat.store import CheckStore
from farm.compat.tasks import Task, TaskRunner
from farm.context import Farm
from farm.dist.filename import validate_project_name
from farm.errors import BadRequest, InternalError, InvalidDistribution, NotFound
from farm.mirror.mirror import parse_requirements
from farm.mirror.upstream import iter_requirement_lines
from index_server.auth import token_from_authorization
from index_server.media import is_json

NOSNIFF = {"X-Content-Type-Options": "nosniff"}
# This server's script and styles only; the GET forms (search, filters) submit to this origin.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
BADGE_CSP = "default-src 'none'; style-src 'unsafe-inline'"
BADGE_CACHE = "public, max-age=300"
MAX_SCAN = 10_000  # requirements in one scan


def _name(project: str) -> str:
    return str(validate_project_name(project, "/compat/<project>"))


def _format(value: str) -> str:
    if value not in ("html", "json"):
        raise BadRequest(f"format {value!r}: use html (the default) or json")
    return value


def _timed(started: float, response: Response) -> Response:
    """The handler's own time, for benchmarks and browsers' developer tools (Server-Timing)."""
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
    return response


def _page(html: str, started: float) -> Response:
    return _timed(started, HTMLResponse(html, headers={**NOSNIFF, "Content-Security-Policy": PAGE_CSP}))


def _json(document: object, started: float, status: int = 200) -> Response:
    return _timed(started, JSONResponse(document, status_code=status, headers=NOSNIFF))


@dataclass(frozen=True)
class _Compat:
    """What the routes share."""

    listing: CheckListing
    store: CheckStore
    site: Site
    policy: RequestPolicy
    runner: TaskRunner
    scans: ScanJobs
    script: Path

    def runtime_of(self, value: str) -> str:
        runtimes = list(self.site.runtimes)
        if not value:
            return runtimes[0]
        if value not in runtimes:
            raise BadRequest(f"runtime {value!r} is not served here; runtimes: {', '.join(runtimes)}")
        return value


def _who(request: Request) -> tuple[str | None, str]:
    token = token_from_authorization(request.headers.get("authorization"))
    return token, request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class CompatBackground:
    """The /compat pages' work off the request: short tasks on threads, scans as jobs on the builds' broker."""

    runner: TaskRunner
    scans: ScanJobs


def compat_router(farm: Farm, jobs: Jobs) -> tuple[APIRouter, CompatBackground]:
    settings = farm.settings
    resend: Callable[[int], None] | None = None
    if not settings.broker_url:  # builds run in this process: a joined build's message may be gone
        resend = lambda build_id: jobs.send(build_id, BUILD)  # noqa: E731
    runner = TaskRunner(
        compat_sessions(farm, jobs.send),
        farm.builds,
        workers=settings.compat_workers,
        mirror_concurrency=settings.mirror_concurrency,
        resend=resend,
        build_wait=settings.build_timeout * 3 + 600,
    )
    policy = RequestPolicy(
        settings.compat_requests,
        farm.tokens.verify,
        settings.compat_rate_per_minute,
        settings.compat_rate_burst,
    )
    compat = _Compat(
        CheckListing(farm.engine),
        CheckStore(farm.engine),
        Site(settings.runtimes, settings.compat_requests),
        policy,
        runner,
        scan_jobs(farm, jobs.broker, jobs.send),
        settings.runner_assets_dir / "web" / "compat.js",
    )
    router = APIRouter()
    _page_routes(router, compat)
    _task_routes(router, compat)
    return router, CompatBackground(runner, compat.scans)


def _page_routes(router: APIRouter, compat: _Compat) -> None:
    listing = compat.listing

    @router.get("/compat", summary="What works on Pyodide here: counts, and a table of the current checks")
    def summary(
        q: str = Query("", max_length=200),
        status: str = "",
        runtime: str = "",
        sort: str = "project",
        order: str = "asc",
        page: int = 1,
        per_page: int = 50,
        format: str = "html",
    ) -> Response:
        started = time.perf_counter()
        query = TableQuery.parse(
            text=q, status=status, runtime=runtime, sort=sort, order=order, page=page, per_page=per_page,
            runtimes=compat.site.runtimes,
        )  # fmt: skip
        document = summary_document(listing, query, compat.site)
        if _format(format) == "json":
            return _json(document, started)
        return _page(render_summary(document), started)

    @router.get("/compat/-/suggest", summary="Project names for the search box (catalog and kept checks)")
    def suggest(q: str = Query("", max_length=200), limit: int = Query(10, ge=1, le=50)) -> Response:
        started = time.perf_counter()
        return _json({"q": q, "suggestions": listing.suggest(q, limit)}, started)

    @router.get("/compat/-/search", summary="The search box: to the project's page")
    def search(q: str = Query(..., max_length=200)) -> Response:
        return RedirectResponse(project_url(_name(q.strip())), status_code=303)

    @router.get("/compat/-/compat.js", include_in_schema=False)
    def page_script() -> Response:
        if not compat.script.is_file():
            raise NotFound(f"{compat.script} is missing: runner_assets/web/compat.js ships with wasmfarm")
        headers = {**NOSNIFF, "Cache-Control": "no-cache"}
        return Response(compat.script.read_bytes(), media_type="text/javascript", headers=headers)

    @router.get("/compat/{project}", summary="One project: a verdict per runtime, evidence, tree, history")
    def project_page(project: str, format: str = "html") -> Response:
        started = time.perf_counter()
        document = project_document(_name(project), listing, compat.store, compat.site)
        if _format(format) == "json":
            return _json(document, started)
        return _page(render_project(document), started)

    @router.get("/compat/{project}/badge.svg", summary="An SVG badge: the project's verdict on a runtime")
    def badge(project: str, runtime: str = "", format: str = "svg") -> Response:
        name, on = _name(project), compat.runtime_of(runtime)
        row = listing.current_of([name], on).get(name)
        made = badge_for(name, on, row.status if row else None)
        headers = {**NOSNIFF, "Cache-Control": BADGE_CACHE}
        if format == "text":
            return PlainTextResponse(made.text, headers=headers)
        if format != "svg":
            raise BadRequest(f"format {format!r}: use svg (the default) or text")
        headers["Content-Security-Policy"] = BADGE_CSP
        return Response(render_svg(made), media_type="image/svg+xml", headers=headers)


def _submit_scan(
    scans: ScanJobs, requirements: list[Requirement], runtimes: list[str]
) -> tuple[dict[str, Any], bool]:
    scan_id, joined = scans.submit(requirements, runtimes)
    found = scans.records.get(scan_id)
    if found is None:
        raise InternalError(f"scan {scan_id} was accepted but is not in the database")
    return found, joined


def _accepted(task: Task, joined: bool) -> Response:
    return JSONResponse({**task.to_json(), "joined": joined}, status_code=202, headers=NOSNIFF)


def _task_routes(router: APIRouter, compat: _Compat) -> None:
    runner, policy = compat.runner, compat.policy

    @router.get(
        "/compat/-/tasks/{task_id}", summary="A check, build, mirroring or scan requested from a page"
    )
    def task(task_id: str) -> Response:
        found = runner.get(task_id) or compat.scans.records.get(task_id[:32])
        if found is None:
            raise NotFound(
                f"no task {task_id!r} (checks, builds and mirrorings are kept for an hour and not across "
                "restarts; scans are kept)"
            )
        return JSONResponse(found, headers=NOSNIFF)

    @router.post("/compat/-/scan", summary="Admin: check a list of requirements in the background")
    async def scan(request: Request, runtime: str = "") -> Response:
        token, _client = _who(request)
        await run_in_threadpool(policy.admit_admin, token, "scan a list")
        lines = _scan_lines(await request.body(), request.headers.get("content-type", ""))
        if not lines:
            raise BadRequest(
                'the list is empty: send requirement lines (text/plain) or {"requirements": [...]}'
            )
        if len(lines) > MAX_SCAN:
            raise BadRequest(f"{len(lines)} requirements: a scan takes at most {MAX_SCAN}; split the list")
        requirements = parse_requirements([("the list", n, text) for n, text in lines])
        runtimes = [compat.runtime_of(runtime)] if runtime else list(compat.site.runtimes)
        found, joined = await run_in_threadpool(_submit_scan, compat.scans, requirements, runtimes)
        return JSONResponse({**found, "joined": joined}, status_code=202, headers=NOSNIFF)

    def action(kind: str) -> Callable[..., Awaitable[Response]]:
        start = {"check": runner.check, "build": runner.build, "mirror": runner.mirror}[kind]

        async def request_action(project: str, request: Request, runtime: str = "") -> Response:
            name, on = _name(project), compat.runtime_of(runtime)
            token, client = _who(request)
            if kind == "mirror":
                await run_in_threadpool(policy.admit_admin, token, f"mirror {name}")
            else:
                await run_in_threadpool(policy.admit, token, client, f"{kind} {name}")
            return _accepted(*start(name, on))

        return request_action

    summaries = {
        "check": "Check a project now (in the background: poll the task)",
        "build": "Build a buildable project, then check it again (in the background)",
        "mirror": "Admin: mirror what upstream has for a project, then check it again (in the background)",
    }
    for kind, text in summaries.items():
        router.add_api_route(f"/compat/{{project}}/{kind}", action(kind), methods=["POST"], summary=text)


def _scan_lines(body: bytes, content_type: str) -> list[tuple[int, str]]:
    """Requirement lines of a scan: JSON ``{"requirements": [...]}``, or a requirements file as text."""
    if is_json(content_type):
        try:
            items = json.loads(body)["requirements"]
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise InvalidDistribution(
                'the body must be JSON like {"requirements": ["attrs", "rich>=13"]}'
            ) from exc
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise InvalidDistribution("'requirements' must be a list of strings")
        return [(n, i.strip()) for n, i in enumerate(items, 1) if i.strip()]
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise BadRequest("the list is not UTF-8 text") from None
    return list(iter_requirement_lines(text))
