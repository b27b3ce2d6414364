"""One mapping from the domain's error tree to HTTP statuses, used by every route."""

from __future__ import annotations

import json
import math

from farm.errors import (
    AuthenticationError,
    BadRequest,
    Busy,
    ConfigurationError,
    FarmError,
    FileConflict,
    InvalidDistribution,
    NotAcceptable,
    NotFound,
    Overloaded,
    PermissionDenied,
    ProxyRefused,
    ProxyUpstreamError,
    RateLimited,
    RecipeInvalid,
    RequestTimeout,
    ResolutionImpossible,
    UploadTooLarge,
    UpstreamIntegrityError,
    UpstreamUnavailable,
)

# Most specific first: the first class an error is an instance of decides.
STATUS: list[tuple[type[FarmError], int]] = [
    (UploadTooLarge, 413),
    (RequestTimeout, 408),
    (ProxyRefused, 403),
    (ProxyUpstreamError, 502),
    (RateLimited, 429),
    (InvalidDistribution, 400),
    (BadRequest, 400),
    (RecipeInvalid, 400),
    (AuthenticationError, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (NotAcceptable, 406),
    (FileConflict, 409),
    (ResolutionImpossible, 422),
    (UpstreamIntegrityError, 502),
    (UpstreamUnavailable, 503),
    (Busy, 503),
    (Overloaded, 503),
    (ConfigurationError, 500),
]


def status_for(exc: FarmError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(exc: FarmError, status: int) -> bytes:
    return json.dumps({"error": type(exc).__name__, "status": status, "message": str(exc)}).encode()


def error_headers(exc: FarmError) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", b"application/json")]
    if isinstance(exc, AuthenticationError):
        headers.append((b"www-authenticate", b'Basic realm="wasmfarm", Bearer'))
    if isinstance(exc, (UploadTooLarge, RequestTimeout)):
        headers.append((b"connection", b"close"))  # the rest of the body is not read
    if isinstance(exc, (RateLimited, Overloaded)) and exc.retry_after is not None:
        headers.append((b"retry-after", str(max(1, math.ceil(exc.retry_after))).encode()))
    return headers
