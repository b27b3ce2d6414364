"""``/proxy?url=...``: the CORS proxy route (policy and fetching live in ``farm.proxy``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response

from farm.errors import ProxyRefused, RateLimited
from farm.proxy.fetch import ProxyFetcher, RateLimiter
from farm.proxy.policy import ProxyPolicy
from farm.settings import Settings

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "X-Final-Url, ETag, Content-Type",
}
# A proxied answer is someone else's content served from this origin, the editor's: opened as a page it must not run
# (it could read the editor's secrets), so it gets an opaque origin and no scripts, and its type is never sniffed.
CONTAINED = {
    "Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}


def policy_from(settings: Settings) -> ProxyPolicy:
    return ProxyPolicy(
        allowed_ports=frozenset(settings.proxy_allowed_ports),
        allow_hosts=frozenset(h.lower() for h in settings.proxy_allow_hosts),
        max_bytes=settings.proxy_max_bytes,
        total_timeout=settings.proxy_timeout,
    )


def proxy_router(settings: Settings) -> tuple[APIRouter, contextlib.AbstractAsyncContextManager[None]]:
    router = APIRouter()
    state: dict[str, ProxyFetcher] = {}
    limiter = RateLimiter(settings.proxy_rate_per_minute, burst=max(10, settings.proxy_rate_per_minute // 4))

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        state["fetcher"] = ProxyFetcher(policy_from(settings))
        yield
        await state.pop("fetcher").aclose()

    # One operation in the API description (GET); the other methods reach the same handler, which refuses them
    # with a message rather than a bare 405, and stay out of the schema (six copies of one operation id otherwise).
    @router.api_route(
        "/proxy",
        methods=["HEAD", "POST", "PUT", "DELETE", "PATCH"],
        include_in_schema=False,
    )
    @router.api_route(
        "/proxy", methods=["GET"], summary="Fetch a public URL for a page (CORS proxy; GET and HEAD only)"
    )
    async def proxy(
        request: Request, url: str = Query(..., description="The absolute http(s) URL")
    ) -> Response:
        destination = request.headers.get("sec-fetch-dest", "empty")
        if destination != "empty":
            # Only fetch() and XMLHttpRequest: never a script, style, frame or page, which would run someone else's
            # content with this origin (the editor's, which holds the secrets).
            raise ProxyRefused(
                f"the proxy answers fetch() and XMLHttpRequest only, not a {destination!r} load "
                "(Sec-Fetch-Dest); load such content from its own site"
            )
        client = request.client.host if request.client else "unknown"
        if not limiter.allow(client):
            raise RateLimited(
                f"more than {settings.proxy_rate_per_minute} proxied requests a minute from {client}; "
                "wait a moment"
            )
        answer = await state["fetcher"].fetch(request.method, url, dict(request.headers), client)
        headers = {**dict(answer.headers), **CORS, **CONTAINED, "X-Final-Url": answer.final_url}
        return Response(
            answer.body if request.method == "GET" else b"", status_code=answer.status, headers=headers
        )

    return router, lifespan()


def mount_proxy(api: FastAPI, settings: Settings) -> contextlib.AbstractAsyncContextManager[None] | None:
    if not settings.proxy_enabled:
        return None
    router, lifespan = proxy_router(settings)
    api.include_router(router)
    return lifespan
