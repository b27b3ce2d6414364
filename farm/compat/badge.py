"""A small SVG badge per project and runtime ("pyodide 314.0.7 | works"), in the shields.io look. Pure.

Every text that reaches the SVG is escaped as XML (a project name is a normalised name by then, but the badge does
not rely on it), and the badge carries its words as ``<title>`` and ``aria-label``: what screen readers, text
browsers and image-less mail show.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from farm.compat.verdict import Status

COLOURS = {
    Status.WORKS: "#2e7d32",
    Status.AVAILABLE: "#0277bd",
    Status.BUILDABLE: "#b26a00",
    Status.FAILS: "#c62828",
    Status.UNKNOWN: "#757575",
}
NOT_CHECKED = "not checked"
_GREY = "#757575"
CHAR_WIDTH = 6.5  # px per character of 11px Verdana, near enough for short words
PADDING = 10


@dataclass(frozen=True)
class Badge:
    label: str  # left: "pyodide 314.0.7"
    message: str  # right: the status, or "not checked"
    colour: str
    title: str  # the whole sentence: "attrs on Pyodide 314.0.7: works"

    @property
    def text(self) -> str:
        return f"{self.title}\n"


def badge_for(project: str, runtime: str, status: Status | None) -> Badge:
    message = status.value if status is not None else NOT_CHECKED
    colour = COLOURS[status] if status is not None else _GREY
    return Badge(f"pyodide {runtime}", message, colour, f"{project} on Pyodide {runtime}: {message}")


def _width(text: str) -> int:
    return int(len(text) * CHAR_WIDTH + 2 * PADDING)


def render_svg(badge: Badge) -> str:
    left, right = _width(badge.label), _width(badge.message)
    total = left + right
    label, message, title = (escape(t, quote=True) for t in (badge.label, badge.message, badge.title))
    colour = escape(badge.colour, quote=True)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{title}">'
        f"<title>{title}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2:.1f}" y="14">{label}</text>'
        f'<text x="{left + right / 2:.1f}" y="14">{message}</text></g></svg>'
    )
