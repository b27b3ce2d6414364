"""Reading a token from a request: HTTP Basic (twine: user ``__token__``) or ``Authorization: Bearer``."""

from __future__ import annotations

import base64
import binascii


def token_from_authorization(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        _user, _, password = decoded.partition(":")
        return password or None
    return None
