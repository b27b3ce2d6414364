"""The ``/compat`` pages as HTML, rendered from their JSON documents (``farm.compat.documents``). Pure.

Everything that comes from the catalog, upstream or a run (names, versions, reasons, tracebacks, logs, URLs) is
escaped; links are built from normalised names and quoted. The pages carry no inline script (their CSP forbids it):
``/compat/-/compat.js`` adds completion, the actions and live progress, finding what it needs in ``data-``
attributes. Without it the pages still show everything, and filtering, sorting and paging are plain links and a
GET form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from farm.compat.documents import STATUSES, project_url, table_url
from farm.compat.listing import SORTS, TableQuery
from farm.compat.verdict import Status

SCRIPT = "/compat/-/compat.js"
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1b1f24;max-width:80rem}
table{border-collapse:collapse}
td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.works{color:#116329}.fails{color:#b3261e}.buildable{color:#7a5200}.available-upstream{color:#0b5394}
.unknown{color:#555}
pre{background:#f6f8fa;padding:.5rem;max-height:40vh;overflow:auto;white-space:pre-wrap}
section.runtime{border:1px solid #ddd;border-radius:6px;padding:0 1rem 1rem;margin:1rem 0}
form{margin:.5rem 0}input,select,button{font:inherit}.task{font-style:italic}nav a{margin-right:1rem}
ul.tree{list-style:none;padding-left:1.2rem}
"""


def e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def href(url: str) -> str | None:
    """A link target that is safe to follow: this server's paths, and http(s) elsewhere; None for anything else
    (an upstream index can list ``javascript:`` URLs; escaping does not make those harmless)."""
    if url.startswith("files/"):  # a mirrored file, relative to the public URL
        return "/" + url
    if url.startswith(("/", "http://", "https://")) and not url.startswith("//"):
        return url
    return None


def _link(url: str, text: str) -> str:
    target = href(url)
    return f"<a href='{e(target)}'>{e(text)}</a>" if target else f"{e(text)} <code>{e(url)}</code>"


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>"
        f"<meta name='viewport' content='width=device-width'><style>{STYLE}</style></head><body>{body}"
        f"<script type='module' src='{SCRIPT}'></script></body></html>"
    )


def _status(status: str | None) -> str:
    if status is None:
        return "<span class='unknown'>not checked</span>"
    return f"<span class='{e(status)}'>{e(status)}</span>"


def _nav() -> str:
    return (
        "<nav><a href='/'>home</a><a href='/editor'>editor</a><a href='/compat'>compat</a>"
        "<a href='/builds'>builds</a></nav>"
    )


def _search() -> str:
    return (
        "<form id='search' action='/compat/-/search' method='get' role='search'>"
        "<label>Does <input id='search-box' name='q' list='suggestions' autocomplete='off' required "
        "maxlength='200' placeholder='a project name'> work on Pyodide?</label> <button>open</button>"
        "<datalist id='suggestions'></datalist></form>"
    )


def _token(requests: str) -> str:
    if requests == "off":
        return "<p id='requests'>This server takes no check or build requests from the web.</p>"
    needed = "needed" if requests == "token" else "optional: without one, requests are rate-limited"
    return (
        f"<p id='requests' data-requests='{e(requests)}'><label>Token (scope build; admin for mirroring and "
        f"scans; {needed}) <input id='token' type='password' autocomplete='off'></label></p>"
    )


# The summary ---------------------------------------------------------------------------------------------------


def render_summary(document: Mapping[str, Any]) -> str:
    summary, page, query = document["summary"], document["page"], document["query"]
    current = TableQuery.parse(
        text=query["q"] or "", status=query["status"] or "", runtime=query["runtime"] or "",
        sort=query["sort"], order=query["order"], page=query["page"], per_page=query["per_page"],
        runtimes=document["runtimes"],
    )  # fmt: skip
    body = _nav() + "<h1>Does it work on Pyodide?</h1>" + _search()
    body += (
        f"<p id='known'>{summary['checked_projects']} project(s) checked; this mirror holds "
        f"{summary['catalog_projects']} project(s).</p>"
    )
    body += _counts(summary, document["runtimes"])
    body += _filters(current, document["runtimes"])
    body += _table(document["rows"], current, page)
    body += _scan_form(document["requests"])
    return _page("Does it work on Pyodide?", body)


def _counts(summary: Mapping[str, Any], runtimes: Sequence[str]) -> str:
    head = "".join(f"<th>{_status(s)}</th>" for s in STATUSES) + "<th>all</th>"
    rows = ""
    for runtime in runtimes:
        counts = summary["runtimes"].get(runtime, {})
        cells = "".join(
            f"<td><a href='{e(table_url(TableQuery(status=Status(s), runtime=runtime)))}'>{counts.get(s, 0)}</a></td>"
            for s in STATUSES
        )
        rows += f"<tr><th>Pyodide {e(runtime)}</th>{cells}<td>{sum(counts.values())}</td></tr>"
    return f"<table id='counts'><tr><th>runtime</th>{head}</tr>{rows}</table>"


def _options(values: Iterable[str], chosen: str | None, blank: str) -> str:
    options = f"<option value=''>{e(blank)}</option>"
    for value in values:
        selected = " selected" if value == chosen else ""
        options += f"<option value='{e(value)}'{selected}>{e(value)}</option>"
    return options


def _filters(query: TableQuery, runtimes: Sequence[str]) -> str:
    status = query.status.value if query.status else None
    return (
        "<form id='filters' action='/compat' method='get'>"
        f"<input name='q' value='{e(query.text)}' placeholder='name contains' maxlength='100'> "
        f"<select name='status'>{_options(STATUSES, status, 'any verdict')}</select> "
        f"<select name='runtime'>{_options(runtimes, query.runtime, 'any runtime')}</select> "
        f"<input type='hidden' name='sort' value='{e(query.sort)}'>"
        f"<input type='hidden' name='order' value='{e(query.order)}'> <button>filter</button></form>"
    )


def _table(rows: Sequence[Mapping[str, Any]], query: TableQuery, page: Mapping[str, Any]) -> str:
    head = ""
    for column in SORTS:
        descending = not query.descending if column == query.sort else column == "checked"
        link = table_url(query.at(sort=column, descending=descending, page=1))
        mark = (" ▼" if query.descending else " ▲") if column == query.sort else ""
        head += f"<th><a href='{e(link)}'>{e(column)}{mark}</a></th>"
    head += "<th>reason</th>"
    body = "".join(
        f"<tr><td><a href='{e(r['url'])}'>{e(r['project'])}</a></td><td>{_status(r['status'])}</td>"
        f"<td>{e(r['runtime'])}</td><td>{e(r['version'] or '-')}</td><td>{e(r['checked_at'][:19])}</td>"
        f"<td>{e(r['reason'])}</td></tr>"
        for r in rows
    )
    pager = f"page {page['number']} of {page['pages']} ({page['rows']} row(s))"
    if page["previous"]:
        pager = f"<a rel='prev' href='{e(page['previous'])}'>previous</a> " + pager
    if page["next"]:
        pager += f" <a rel='next' href='{e(page['next'])}'>next</a>"
    return f"<table id='checks'><tr>{head}</tr>{body}</table><p id='pager'>{pager}</p>"


def _scan_form(requests: str) -> str:
    if requests == "off":
        return ""
    return (
        "<details id='scan'><summary>Scan a list (admin)</summary>"
        "<p>One requirement a line (a requirements file), pasted or from a file. Every verdict is kept.</p>"
        "<textarea id='scan-list' rows='6' cols='60'></textarea><br>"
        "<input id='scan-file' type='file' accept='.txt,text/plain'> "
        "<label>admin token <input id='scan-token' type='password' autocomplete='off'></label> "
        "<button id='scan-start' type='button'>scan</button><br>"
        "<progress id='scan-progress' max='1' value='0'></progress> <span id='scan-status'></span></details>"
    )


# One project ---------------------------------------------------------------------------------------------------


def render_project(document: Mapping[str, Any]) -> str:
    project = document["project"]
    body = _nav() + f"<h1 id='project' data-project='{e(project)}'>{e(project)} on Pyodide</h1>" + _search()
    if not document["known"]:
        body += (
            "<p id='unknown'>This mirror holds no files of this project and has not checked it yet: "
            "check it now to hear what upstream offers.</p>"
        )
    body += _token(document["requests"])
    body += "".join(_runtime(project, r) for r in document["runtimes"])
    body += _history(document["history"])
    return _page(f"{project} on Pyodide", body)


def _runtime(project: str, entry: Mapping[str, Any]) -> str:
    runtime, verdict = entry["runtime"], entry["verdict"]
    # The badge is cached for minutes; this page names the check it shows, so a new verdict is a new image.
    badge = entry["badge"] + (f"&check={verdict['check_id']}" if verdict and verdict["check_id"] else "")
    html = (
        f"<section class='runtime' data-runtime='{e(runtime)}'><h2>Pyodide {e(runtime)} "
        f"<img src='{e(badge)}' alt='{e(project)} on Pyodide {e(runtime)}'></h2>"
    )
    if verdict is None:
        html += "<p class='verdict'><span class='unknown'>not checked yet</span></p>"
    else:
        html += (
            f"<p class='verdict'><strong class='status {e(verdict['status'])}'>{e(verdict['status'])}</strong> "
            f"({e(verdict['code'])}) {e(verdict['version'] or '')}: <span class='reason'>{e(verdict['reason'])}"
            f"</span></p><p class='checked'>checked {e(verdict['checked_at'][:19])}, {e(verdict['seconds'])} s"
            f"{', in Pyodide' if verdict['ran'] else ''}</p>"
        )
        html += _evidence(verdict["evidence"])
        html += _tree(entry["tree"], project)
    html += f"<p><a class='try-it' href='{e(entry['try_it'])}'>try it in the editor</a></p>"
    labels = {"check": "check now", "build": "build it", "mirror": "mirror it (admin)"}
    buttons = "".join(
        f"<button class='action' type='button' data-kind='{e(kind)}' data-url='{e(url)}'>{labels[kind]}</button> "
        for kind, url in entry["actions"].items()
    )
    if buttons:
        html += f"<p class='actions'>{buttons}</p>"
    building = entry.get("building")
    html += "<p class='task'></p>"
    html += f"<p class='build-live' data-build='{e(building or '')}'></p></section>"
    return html


def _evidence(evidence: Mapping[str, Any]) -> str:
    items = []
    for key in ("wheel", "sdist"):
        ref = evidence.get(key)
        if ref:
            items.append(
                f"<li>{key}: {_link(ref['url'], ref['filename'])} ({e(ref['origin'])}, sha256 "
                f"<code>{e((ref['sha256'] or '')[:16])}</code>)</li>"
            )
    if evidence.get("missing"):
        items.append(f"<li>not mirrored: {e(', '.join(evidence['missing']))}</li>")
    if evidence.get("newer_upstream"):
        items.append(f"<li>newer upstream: {e(evidence['newer_upstream'])}</li>")
    for key in ("platforms", "languages", "sources"):
        if evidence.get(key):
            items.append(f"<li>{key}: {e(', '.join(evidence[key]))}</li>")
    if evidence.get("installed"):
        installed = ", ".join(f"{k} {v}" for k, v in evidence["installed"].items())
        items.append(f"<li>installed: {e(installed)}</li>")
    for module, result in (evidence.get("imports") or {}).items():
        shown = "ok" if result == "ok" else f"<pre>{e(result)}</pre>"
        items.append(f"<li>import {e(module)}: {shown}</li>")
    build = evidence.get("build")
    if build:
        items.append(
            f"<li>build: {_link(build['url'], build['url'])} {e(build['state'])} {e(build['step'])}"
            f"{'<pre>' + e(chr(10).join(build['log_tail'])) + '</pre>' if build.get('log_tail') else ''}</li>"
        )
    if evidence.get("recipe"):
        items.append(f"<li>recipe: <code>{e(evidence['recipe'])}</code></li>")
    dependency = evidence.get("dependency")
    if dependency:
        items.append(
            f"<li>dependency: <a href='{e(project_url(dependency['project']))}'>{e(dependency['requirement'])}</a> "
            f"{_status(dependency['status'])}: {e(dependency['reason'])}</li>"
        )
    if evidence.get("detail"):
        items.append(f"<li>detail<pre>{e(evidence['detail'])}</pre></li>")
    if evidence.get("log"):
        items.append(
            f"<li><details><summary>log</summary><pre>{e(chr(10).join(evidence['log']))}</pre></details></li>"
        )
    return f"<ul class='evidence'>{''.join(items)}</ul>" if items else ""


def _tree(nodes: Sequence[Mapping[str, Any]], root: str) -> str:
    if not nodes:
        return ""
    by_name = {n["name"]: n for n in nodes}

    def branch(name: str, seen: frozenset[str]) -> str:
        node = by_name[name]
        mirrored = "" if node["mirrored"] is None else (" mirrored" if node["mirrored"] else " upstream only")
        children = [d for d in node["depends"] if d in by_name and d not in seen]
        below = "".join(branch(d, seen | {d}) for d in children)
        return (
            f"<li><a href='{e(node['url'])}'>{e(name)}</a> {e(node['version'] or '')}{mirrored}: "
            f"{_node_status(node)}{'<ul class=tree>' + below + '</ul>' if below else ''}</li>"
        )

    start = root if root in by_name else nodes[0]["name"]
    return f"<h3>Dependency tree</h3><ul class='tree' id='tree'>{branch(start, frozenset({start}))}</ul>"


def _node_status(node: Mapping[str, Any]) -> str:
    if node["status"] is None and node.get("installed_with"):
        return f"<span class='unknown'>installed with {e(node['installed_with'])}</span> (not checked on its own)"
    return _status(node["status"])


def _history(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    body = "".join(
        f"<tr><td>{e(r['checked_at'][:19])}</td><td>{e(r['runtime'])}</td><td>{e(r['version'] or '-')}</td>"
        f"<td>{_status(r['status'])}</td><td>{e(r['code'])}</td><td>{e(r['seconds'])}</td>"
        f"<td>{'yes' if r['ran'] else ''}</td><td>{e(r['reason'])}</td></tr>"
        for r in rows
    )
    head = "<tr><th>checked</th><th>runtime</th><th>version</th><th>verdict</th><th>code</th><th>s</th>"
    head += "<th>ran</th><th>reason</th></tr>"
    return f"<h2>History</h2><table id='history'>{head}{body}</table>"
