"""Recording and listing audit events (table ``audit_event``). Each one is also logged as an event of its own, so a
log pipeline sees the same trail the database keeps."""

from __future__ import annotations

import getpass
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from farm.auth.tokens import TokenInfo
from farm.ops.logs import event
from farm.store.models import AuditEvent, TokenScope

log = logging.getLogger(__name__)


class Action(StrEnum):
    UPLOAD = "upload"
    YANK = "yank"
    UNYANK = "unyank"
    DELETE = "delete"
    TOKEN_CREATE = "token-create"  # noqa: S105 - an action's name, not a secret
    TOKEN_REVOKE = "token-revoke"  # noqa: S105
    BUILD_REBUILD = "build-rebuild"
    BUILD_CANCEL = "build-cancel"
    QUARANTINE_RELEASE = "quarantine-release"
    MIRROR = "mirror"  # a `wasmfarm mirror` run that fetched or yanked anything, or failed


@dataclass(frozen=True)
class Actor:
    """Who acts: a token (its id and prefix, never its secret) from a client address, or a local user at the
    command line (who may do anything: they hold the database)."""

    name: str
    token_id: int | None = None
    client: str | None = None
    admin: bool = False  # the token has scope admin, or this is the command line
    projects: tuple[str, ...] | None = None  # the token's project restriction; None: any (or not a token)

    @classmethod
    def command_line(cls) -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (a container)
            user = "unknown"
        return cls(f"cli:{user}", admin=True)

    @classmethod
    def for_token(cls, token: TokenInfo, client: str | None) -> Actor:
        return cls(
            f"token {token.id} ({token.prefix}…)",
            token_id=token.id,
            client=client,
            admin=token.scope is TokenScope.ADMIN,
            projects=token.projects,
        )


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    action: str
    target: str
    actor: str
    token_id: int | None
    reason: str | None
    client: str | None
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "action": self.action,
            "target": self.target,
            "actor": self.actor,
            "token_id": self.token_id,
            "reason": self.reason,
            "client": self.client,
            "detail": self.detail,
        }


class AuditTrail:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(
        self, action: Action, target: str, actor: Actor, *, reason: str | None = None, **detail: Any
    ) -> None:
        row = AuditEvent(
            action=action.value,
            target=target,
            actor=actor.name,
            token_id=actor.token_id,
            reason=reason or None,
            client=actor.client,
            detail=json.dumps(detail, sort_keys=True, default=str) if detail else None,
        )
        with Session(self.engine) as session:
            session.add(row)
            session.commit()
        event(
            log,
            action.value,
            target=target,
            actor=actor.name,
            token_id=actor.token_id,
            client=actor.client,
            reason=reason or None,
            **detail,
        )

    def entries(self, limit: int = 50, action: str | None = None) -> list[Entry]:
        """The newest ``limit`` events, newest first."""
        query = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(max(1, limit))
        if action is not None:
            query = query.where(AuditEvent.action == action)
        with Session(self.engine) as session:
            rows = list(session.exec(query))
        return [_entry(row) for row in rows]


def _entry(row: AuditEvent) -> Entry:
    assert row.id is not None
    try:
        detail = json.loads(row.detail) if row.detail else {}
    except ValueError:
        detail = {"raw": row.detail}
    return Entry(
        id=row.id,
        at=row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=UTC),  # SQLite keeps no offset
        action=row.action,
        target=row.target,
        actor=row.actor,
        token_id=row.token_id,
        reason=row.reason,
        client=row.client,
        detail=detail if isinstance(detail, dict) else {"raw": detail},
    )
