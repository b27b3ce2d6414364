"""Media types of request bodies, read as RFC 9110 says: the type and subtype are case-insensitive, parameters
(``; charset=utf-8``) follow a semicolon."""

from __future__ import annotations


def media_type(content_type: str) -> str:
    """``"Application/JSON; charset=utf-8"`` -> ``"application/json"``."""
    return content_type.split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    return media_type(content_type) == "application/json"
