"""The landing page and the HTML error pages. Pure: facts in, escaped HTML out; no inline script (the pages' CSP
forbids it)."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from farm.overview.facts import Overview

# Old share links pointed at ``/#v1.…`` (the editor lived at ``/``): this script sends them on to the editor.
FORWARD_SCRIPT = "/runner/landing.js"
STYLE = """
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--muted:#57606a;--link:#0b57d0;--card:#f6f8fa;--border:#d0d7de}
@media (prefers-color-scheme:dark){:root{--fg:#e6e6e6;--bg:#181a1f;--muted:#b0b0b0;--link:#8ab4f8;--card:#23262d;
--border:#3a3f4a}}
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;padding:1.5rem;max-width:60rem;color:var(--fg);
background:var(--bg)}
a{color:var(--link)}nav a{margin-right:1rem}h1{margin:.5rem 0}.muted{color:var(--muted)}
section{background:var(--card);border:1px solid var(--border);border-radius:8px;padding:.2rem 1rem .8rem;
margin:1rem 0}
table{border-collapse:collapse}td,th{padding:.2rem .8rem .2rem 0;text-align:left}code{overflow-wrap:anywhere}
.cta{font-size:1.15rem}
"""


def e(value: object) -> str:
    return escape(str(value), quote=True)


def _page(title: str, body: str, *, script: bool = False) -> str:
    forward = f"<script src='{FORWARD_SCRIPT}'></script>" if script else ""
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<link rel='icon' href='/favicon.svg' type='image/svg+xml'>"
        f"<style>{STYLE}</style>{forward}</head><body>{body}</body></html>"
    )


def _nav() -> str:
    return (
        "<nav aria-label='site'><a href='/'>home</a><a href='/editor'>editor</a><a href='/simple/'>index</a>"
        "<a href='/compat'>compat</a><a href='/builds'>builds</a></nav>"
    )


def _counts(counts: dict[str, int], empty: str) -> str:
    if not counts:
        return f"<span class='muted'>{e(empty)}</span>"
    return ", ".join(f"{n} {e(name)}" for name, n in sorted(counts.items()))


def _recent(projects: tuple[tuple[str, str], ...]) -> str:
    if not projects:
        return ""
    items = "".join(
        f"<li><a href='/compat/{quote(name)}'>{e(display)}</a> "
        f"(<a href='/simple/{quote(name)}/'>files</a>)</li>"
        for name, display in projects
    )
    intro = "<p>Newest projects, each with its page (does it work on Pyodide?) and its files:</p>"
    return f"{intro}<ul id='recent'>{items}</ul>"


def render_landing(overview: Overview) -> str:
    runtimes = "".join(
        f"<tr><th scope='row'>Pyodide {e(r.version)}</th>"
        + (
            f"<td>Python {e(r.python)}</td><td><a href='/r/{quote(r.version)}/simple/'>index for it</a></td>"
            f"<td><a href='/pyodide/{quote(r.version)}/'>runtime files</a></td>"
            if r.installed
            else "<td colspan='3' class='muted'>not installed yet (fetched at start, "
            f"or <code>wasmfarm runtime add {e(r.version)}</code>)</td>"
        )
        + "</tr>"
        for r in overview.runtimes
    )
    body = _nav() + "<main><h1>wasmfarm</h1>"
    body += (
        "<p>A package mirror and WebAssembly wheel build farm for Pyodide: Python in the browser and in Node, with "
        "everything it needs served from this server.</p>"
        "<p class='cta'><a href='/editor'>Open the editor</a>: write Python, run it in your browser, share it.</p>"
    )
    body += f"<section aria-labelledby='runtimes'><h2 id='runtimes'>Runtimes</h2><table>{runtimes}</table></section>"
    body += (
        "<section aria-labelledby='packages'><h2 id='packages'>Packages</h2>"
        f"<p id='project-count'>{overview.projects} project(s), {overview.files} file(s) "
        f"({_counts(overview.files_by_origin, 'none yet')}).</p>"
        + _recent(overview.recent)
        + "<p><a href='/simple/'>The simple index</a> (PEP 503/691) for pip, uv and micropip; "
        "<a href='/openapi.json'>the JSON API</a>.</p></section>"
    )
    body += (
        "<section aria-labelledby='builds'><h2 id='builds'>Builds</h2>"
        f"<p id='build-count'>{overview.builds} build(s): "
        f"{_counts(overview.builds_by_state, 'none yet')}. <a href='/builds'>All builds</a>.</p></section>"
    )
    body += (
        "<section aria-labelledby='compat'><h2 id='compat'>Does it work on Pyodide?</h2>"
        f"<p id='compat-count'>{overview.checked_projects} project(s) checked: "
        f"{_counts(overview.checks_by_status, 'none yet')}. <a href='/compat'>Search and check</a>.</p></section>"
    )
    body += "</main>"
    return _page("wasmfarm", body, script=True)


def render_error(status: int, title: str, message: str) -> str:
    body = _nav() + (
        f"<main><h1>{status} {e(title)}</h1><p id='message'>{e(message)}</p>"
        "<p>The <a href='/'>home page</a> lists what this server offers.</p></main>"
    )
    return _page(f"{status} {title}", body)
