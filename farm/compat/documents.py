"""The documents the ``/compat`` pages are made of: the JSON that ``?format=json`` returns, and from which the HTML
is rendered (``farm.compat.pages``), so both always say the same. Schemas in ``docs/compat.md``.

Built from the kept checks (``farm.compat.listing``, ``farm.compat.store``); no Pyodide, no upstream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from packaging.utils import canonicalize_name

from farm.compat import tryit
from farm.compat.listing import CheckListing, CheckRow, TablePage, TableQuery
from farm.compat.mirroring import wants_mirroring
from farm.compat.store import CheckStore
from farm.compat.verdict import Code, Status, Verdict

STATUSES = [s.value for s in Status]


def project_url(project: str) -> str:
    return f"/compat/{quote(project, safe='')}"


def badge_url(project: str, runtime: str) -> str:
    return f"{project_url(project)}/badge.svg?{urlencode({'runtime': runtime})}"


def table_url(query: TableQuery) -> str:
    """The summary page showing ``query`` (only what differs from the defaults)."""
    default = TableQuery()
    params = {
        k: v for k, v in query.to_json().items() if v is not None and v != "" and v != default.to_json()[k]
    }
    return "/compat" + (f"?{urlencode(params)}" if params else "")


@dataclass(frozen=True)
class Site:
    """What every page needs to know about this server."""

    runtimes: Sequence[str]
    requests: str  # setting compat_requests: off | token | anyone


def summary_document(listing: CheckListing, query: TableQuery, site: Site) -> dict[str, Any]:
    summary = listing.summary()
    page: TablePage = listing.table(query)
    pages = page.pages
    return {
        "summary": {**summary.to_json(), "statuses": STATUSES},
        "query": query.to_json(),
        "page": {
            "number": query.page,
            "per_page": query.per_page,
            "rows": page.total,
            "pages": pages,
            "previous": table_url(query.at(page=query.page - 1)) if query.page > 1 else None,
            "next": table_url(query.at(page=query.page + 1)) if query.page < pages else None,
        },
        "rows": [_table_row(r) for r in page.rows],
        "runtimes": list(site.runtimes),
        "requests": site.requests,
    }


def _table_row(row: CheckRow) -> dict[str, Any]:
    return {**row.to_json(), "url": project_url(row.project), "badge": badge_url(row.project, row.runtime)}


def project_document(
    project: str, listing: CheckListing, store: CheckStore, site: Site, history: int = 50
) -> dict[str, Any]:
    current = {v.runtime: v for v in store.current(project)}
    runtimes = [_runtime(project, runtime, current.get(runtime), listing, site) for runtime in site.runtimes]
    return {
        "project": project,
        "url": project_url(project),
        "known": bool(current) or listing.known(project),
        "runtimes": runtimes,
        "history": [r.to_json() for r in listing.history(project, history)],
        "requests": site.requests,
    }


def _runtime(
    project: str, runtime: str, verdict: Verdict | None, listing: CheckListing, site: Site
) -> dict[str, Any]:
    requirement = f"{project}=={verdict.version}" if verdict and verdict.version else project
    modules = tryit.import_names(project, list(verdict.evidence.imports) if verdict else [])
    base = project_url(project)
    query = urlencode({"runtime": runtime})
    actions = {"check": f"{base}/check?{query}"}
    if verdict is not None and _buildable(verdict):
        actions["build"] = f"{base}/build?{query}"
    if verdict is not None and wants_mirroring(verdict):
        actions["mirror"] = f"{base}/mirror?{query}"
    build = verdict.evidence.build if verdict is not None else None
    return {
        "runtime": runtime,
        "verdict": verdict.to_json() if verdict is not None else None,
        "badge": badge_url(project, runtime),
        "try_it": tryit.editor_link(requirement, runtime, project, modules),
        "tree": tree(verdict, listing) if verdict is not None else [],
        "actions": actions if site.requests != "off" else {},
        "building": build.url if build is not None and build.state in ("queued", "running") else None,
    }


def _buildable(verdict: Verdict) -> bool:
    if verdict.code is Code.BUILDING:
        return False
    return verdict.status is Status.BUILDABLE or verdict.code is Code.BUILD_FAILED


def tree(verdict: Verdict, listing: CheckListing) -> list[dict[str, Any]]:
    """The dependency tree of a verdict: its closure's nodes (each with its ``depends``) or, when the closure could
    not be resolved, the chain of failing (or buildable) dependencies. Each node with the verdict it has: its own
    current check on the runtime, the dependency verdict that explains the root's, or none (``status`` null). A node
    with no check of its own that the root's run installed says so (``installed_with``: the root's name): it was
    installed by micropip in that run, which is not a verdict of its own (its modules were not imported for it)."""
    closure = verdict.evidence.closure
    if closure:
        names = [n.name for n in closure]
        kept = listing.current_of([n for n in names if n != verdict.project], verdict.runtime)
        installed: dict[str, str] = {canonicalize_name(k): v for k, v in verdict.evidence.installed.items()}
        nodes = []
        for n in closure:
            node = _node(n.name, n.version, n.mirrored, list(n.depends),
                         verdict if n.name == verdict.project else None, kept.get(n.name))  # fmt: skip
            if node["status"] is None and installed.get(canonicalize_name(n.name)) == n.version:
                node["installed_with"] = verdict.project
            nodes.append(node)
        return nodes
    chain: list[dict[str, Any]] = []
    subject: Verdict | None = verdict
    while subject is not None and len(chain) < 10:
        below = subject.evidence.dependency
        depends = [below.project] if below is not None else []
        chain.append(_node(subject.project, subject.version, None, depends, subject, None))
        subject = below
    return chain if len(chain) > 1 else []


def _node(
    name: str,
    version: str | None,
    mirrored: bool | None,
    depends: list[str],
    verdict: Verdict | None,
    row: CheckRow | None,
) -> dict[str, Any]:
    status = verdict.status.value if verdict else row.status.value if row else None
    code = verdict.code.value if verdict else row.code if row else None
    reason = verdict.reason if verdict else row.reason if row else None
    return {
        "name": name,
        "version": version,
        "mirrored": mirrored,
        "depends": depends,
        "status": status,
        "code": code,
        "reason": reason,
        "installed_with": None,
        "url": project_url(name),
    }
