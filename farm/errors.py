"""The one error tree of wasmfarm.

Every error says what went wrong, where (file, field, URL) and what to do about it. The HTTP layer maps each class
to one status code in one handler (``index_server.errors``); the CLI prints the message and exits non-zero.
"""

from __future__ import annotations


class FarmError(Exception):
    """Base of every error wasmfarm raises on purpose."""


class BadRequest(FarmError):
    """A request is malformed: a control character in its path, a body that is not what the route takes."""


class RequestTimeout(BadRequest):
    """A request body stopped arriving: the client sent nothing for too long."""


class InternalError(FarmError):
    """Something failed that no input should be able to cause: a bug, answered 500 and logged with its traceback."""


class ConfigurationError(FarmError):
    """A setting is missing or malformed."""


class NotFound(FarmError):
    """A project, file, runtime or token does not exist."""


class InvalidDistribution(FarmError):
    """A wheel or sdist is malformed: bad filename, unsafe archive, metadata that contradicts its name."""


class UploadTooLarge(InvalidDistribution):
    """An upload exceeds the configured size limit."""


class FileConflict(FarmError):
    """A file of this name exists already with other content; files are immutable."""


class AuthenticationError(FarmError):
    """No token, or a token that is unknown or revoked."""


class PermissionDenied(FarmError):
    """The token is valid but its scope does not allow the action."""


class RecipeInvalid(FarmError):
    """A recipe (meta.yaml) is malformed or inconsistent; the message lists every problem with file:line."""


class UnknownRuntime(NotFound):
    """A Pyodide runtime version wasmfarm has no target description for."""


class UpstreamUnavailable(FarmError):
    """The upstream index did not answer or answered with a server error; retrying may help."""


class UpstreamIntegrityError(FarmError):
    """A file downloaded from upstream does not match the hash its index advertised; nothing was stored."""


class ResolutionImpossible(FarmError):
    """Requirements cannot be satisfied for a runtime; the message names the requirement and the chain to it."""

    def __init__(self, message: str, unsatisfied: tuple[tuple[str, str | None], ...] = ()) -> None:
        super().__init__(message)
        self.unsatisfied = unsatisfied  # (requirement, the candidate that asked for it; None: asked directly)


class NotAcceptable(FarmError):
    """No representation of an index page matches the request's Accept header."""


class ProxyRefused(FarmError):
    """The CORS proxy will not fetch this URL: scheme, port, address or allowlist policy."""


class ProxyUpstreamError(FarmError):
    """The CORS proxy reached the target, but it failed, timed out or answered too much."""


class RateLimited(FarmError):
    """Too many requests from one client; retry after a moment (``retry_after`` seconds, when known)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(FarmError):
    """The server has more of this work in hand than it takes (its queue is full), or the worker process that ran it
    was lost; nothing was changed: retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Busy(FarmError):
    """Another process holds what this work needs for longer than it may wait (the render lock): the message names
    the holder. Nothing was changed; retry later, or stop the holder if it hangs."""


class BuildError(FarmError):
    """A builder or a build could not be made: a missing tool, a broken image, a failed step."""


class BuildFailed(BuildError):
    """A build ran and failed (compile error, failed check, failed verification): permanent, not retried."""
