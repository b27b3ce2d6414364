"""Content negotiation for simple-index pages (PEP 691): Accept with q-values, and a ``?format=`` override."""

from __future__ import annotations

from dataclasses import dataclass

from farm.errors import NotAcceptable

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
TEXT_HTML = "text/html"

_ALIASES = {
    "application/vnd.pypi.simple.latest+json": JSON_V1,
    "application/vnd.pypi.simple.latest+html": HTML_V1,
}
# Server preference among equally acceptable types. For wildcard-only matches, plain HTML is the compatible default.
_PREFERENCE = [JSON_V1, HTML_V1, TEXT_HTML]
_WILDCARD_PREFERENCE = [TEXT_HTML, HTML_V1, JSON_V1]
_SHORT = {"json": JSON_V1, "html": TEXT_HTML}


@dataclass(frozen=True)
class Representation:
    media_type: str  # what the response's Content-Type says

    @property
    def format(self) -> str:
        return "json" if self.media_type == JSON_V1 else "html"

    @property
    def content_type(self) -> str:
        return "text/html; charset=utf-8" if self.media_type == TEXT_HTML else self.media_type


def _parse_accept(header: str) -> list[tuple[str, float]]:
    ranges = []
    for item in header.split(","):
        parts = [p.strip() for p in item.split(";")]
        media = parts[0].lower()
        if not media:
            continue
        quality = 1.0
        for param in parts[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((_ALIASES.get(media, media), max(0.0, min(quality, 1.0))))
    return ranges


def _match(offer: str, ranges: list[tuple[str, float]]) -> tuple[float, int]:
    """(quality, specificity) of the most specific range that matches the offer; (0, 0) when none does."""
    kind = offer.split("/", maxsplit=1)[0]
    best: tuple[float, int] = (0.0, 0)
    for media, quality in ranges:
        if media == offer:
            specificity = 3
        elif media == f"{kind}/*":
            specificity = 2
        elif media == "*/*":
            specificity = 1
        else:
            continue
        if specificity > best[1]:
            best = (quality, specificity)
    return best


def negotiate(accept: str | None, format_override: str | None = None) -> Representation:
    if format_override:
        wanted = _SHORT.get(format_override.lower(), _ALIASES.get(format_override, format_override))
        if wanted not in _PREFERENCE:
            raise NotAcceptable(
                f"?format={format_override!r} is not served; use json, html, {JSON_V1}, {HTML_V1} or {TEXT_HTML}"
            )
        return Representation(wanted)
    if not accept or not accept.strip():
        return Representation(TEXT_HTML)
    ranges = _parse_accept(accept)
    scored = []
    for offer in _PREFERENCE:
        quality, specificity = _match(offer, ranges)
        if quality > 0:
            order = _WILDCARD_PREFERENCE if specificity == 1 else _PREFERENCE
            scored.append((-quality, -specificity, order.index(offer), offer))
    if not scored:
        raise NotAcceptable(
            f"none of the index's media types ({', '.join(_PREFERENCE)}) is acceptable to Accept: {accept!r}"
        )
    return Representation(min(scored)[3])
