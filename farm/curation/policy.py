"""Who may yank or delete what (pure: no I/O).

- An **admin** token, or the command line, may yank and un-yank any file; a local yank of a mirrored file is kept
  over upstream's state (the mirror no longer carries it) until it is undone.
- An **upload** token *owns* a project when it is restricted to it (``wasmfarm token create --scope upload --project
  NAME``): it may yank, un-yank and delete that project's uploaded files. An unrestricted upload token may upload
  anywhere but owns nothing: yanks and deletes need its project restriction or an admin.
- **Delete** is for uploaded files only. A mirrored file would come back with the next mirror run, and a built wheel
  belongs to its build's record: both can be yanked instead, which keeps them out of every lock and resolution.
"""

from __future__ import annotations

from enum import StrEnum

from farm.errors import BadRequest, PermissionDenied
from farm.store.models import Origin


class Verb(StrEnum):
    YANK = "yank"
    UNYANK = "unyank"
    DELETE = "delete"


def check_allowed(
    verb: Verb,
    filename: str,
    origin: str,
    project: str,
    *,
    admin: bool,
    projects: tuple[str, ...] | None,
    who: str,
) -> None:
    """Raise PermissionDenied, saying why and what to do, unless ``who`` may ``verb`` this file."""
    if verb is Verb.DELETE and origin != Origin.UPLOADED:
        instead = {
            Origin.MIRRORED.value: "the next `wasmfarm mirror` would fetch it again",
            Origin.PYODIDE.value: "it came with a Pyodide distribution (`wasmfarm runtime add --distribution`)",
        }.get(origin, "it is the record of a build (`wasmfarm builds`)")
        raise PermissionDenied(
            f"{filename} was {origin}, not uploaded, and only uploaded files can be deleted: {instead}. Yank it "
            "instead: a yanked file stays listed as yanked and is left out of every lock and resolution"
        )
    if admin:
        return
    if origin != Origin.UPLOADED:
        raise PermissionDenied(
            f"{filename} was {origin}; only an admin token may {verb.value} it (an upload token acts on uploaded "
            "files of the projects it is restricted to)"
        )
    if projects is None or project not in projects:
        raise PermissionDenied(
            f"{who} does not own project {project!r}: an upload token may {verb.value} files only of the projects "
            f"it is restricted to (`wasmfarm token create --scope upload --project {project}`), or use an admin token"
        )


MAX_REASON = 500


def clean_reason(reason: object) -> str | None:
    """A yank or delete reason as given by a client: text of at most MAX_REASON characters, no control characters
    (it is shown on index pages and in logs); empty means none."""
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise BadRequest(f"reason must be text, not {type(reason).__name__}")
    text = reason.strip()
    if len(text) > MAX_REASON:
        raise BadRequest(f"reason has {len(text)} characters; at most {MAX_REASON} are kept")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise BadRequest(
            "reason contains a control character (newline, tab, NUL, ...); give one line of text"
        )
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):  # JSON can carry a lone surrogate; UTF-8 cannot
        raise BadRequest("reason contains a lone UTF-16 surrogate (\\ud800-\\udfff); send valid Unicode text")
    return text or None
