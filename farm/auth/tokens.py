"""API tokens with scopes read < upload < admin and read < build < admin (``TokenScope.allows``).

A token is ``wf_`` + 32 random bytes (urlsafe base64). Only its sha256 is stored: a token has 256 bits of entropy, so
a fast hash is enough (a slow password hash protects low-entropy secrets, which these are not).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from farm.dist.filename import validate_project_name
from farm.errors import AuthenticationError, ConfigurationError, NotFound, PermissionDenied
from farm.ops.logs import CURRENT_REQUEST, event
from farm.store.models import ApiToken, TokenScope, as_utc, utcnow

log = logging.getLogger(__name__)
PREFIX = "wf_"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    id: int
    secret: str  # shown once
    scope: TokenScope


@dataclass(frozen=True)
class TokenInfo:
    id: int
    prefix: str
    scope: TokenScope
    description: str
    created_at: datetime
    revoked: bool
    expires_at: datetime | None = None
    projects: tuple[str, ...] | None = None  # the only projects it may upload to; None: any

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and as_utc(self.expires_at) <= (now or utcnow())

    def check_project(self, project: str) -> None:
        """A token restricted to named projects cannot publish another team's project."""
        if self.projects is not None and project not in self.projects:
            allowed = ", ".join(self.projects)
            raise PermissionDenied(
                f"token {self.prefix}… may upload only to {allowed}, not to {project!r}; ask an admin for a token "
                f"with `wasmfarm token create --scope upload --project {project}`"
            )


class TokenService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        scope: TokenScope,
        description: str = "",
        *,
        expires_at: datetime | None = None,
        projects: Sequence[str] | None = None,
    ) -> IssuedToken:
        if expires_at is not None and as_utc(expires_at) <= utcnow():
            raise ConfigurationError(f"the expiry {expires_at:%Y-%m-%d %H:%M} UTC is in the past")
        names = sorted({validate_project_name(p, "token --project") for p in projects}) if projects else None
        secret = PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(
            token_hash=_hash(secret),
            prefix=secret[:10],
            scope=scope.value,
            description=description,
            expires_at=as_utc(expires_at).astimezone(UTC)
            if expires_at is not None
            else None,  # SQLite keeps no offset
            projects=json.dumps(names) if names is not None else None,
        )
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(row)
            session.commit()
        assert row.id is not None
        return IssuedToken(row.id, secret, scope)

    def verify(self, secret: str | None, needed: TokenScope) -> TokenInfo:
        """The token behind a secret, if it exists, is not revoked and its scope allows ``needed``."""
        if not secret:
            raise AuthenticationError(
                f"this action needs a token of scope {needed.value!r} or higher; create one with "
                f"`wasmfarm token create --scope {needed.value}` and send it as the password (user __token__) "
                "or as 'Authorization: Bearer <token>'"
            )
        digest = _hash(secret)
        with Session(self.engine) as session:
            row = session.exec(select(ApiToken).where(ApiToken.token_hash == digest)).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked_at is not None:
            raise AuthenticationError(
                "the token is unknown or revoked; create a new one with `wasmfarm token create`"
            )
        info = _info(row)
        if info.expired():
            assert info.expires_at is not None
            raise AuthenticationError(
                f"token {info.prefix}… expired at {as_utc(info.expires_at):%Y-%m-%d %H:%M} UTC; create a new one "
                "with `wasmfarm token create`"
            )
        request = CURRENT_REQUEST.get()
        if request is not None:  # the access log names the token a request used
            request.token_id, request.token_scope = info.id, info.scope.value
        if not info.scope.allows(needed):
            event(
                log,
                "token_refused",
                logging.WARNING,
                token_id=info.id,
                scope=info.scope.value,
                needed=needed.value,
            )
            raise PermissionDenied(
                f"token {info.prefix}… has scope {info.scope.value!r}; this action needs {needed.value!r} or higher"
            )
        event(
            log,
            "token_used",
            token_id=info.id,
            prefix=info.prefix,
            scope=info.scope.value,
            needed=needed.value,
        )
        return info

    def list(self) -> list[TokenInfo]:
        with Session(self.engine) as session:
            return [_info(r) for r in session.exec(select(ApiToken).order_by(col(ApiToken.id)))]

    def revoke(self, token_id: int) -> None:
        with Session(self.engine) as session:
            row = session.get(ApiToken, token_id)
            if row is None:
                raise NotFound(f"no token with id {token_id}; `wasmfarm token list` shows them")
            row.revoked_at = utcnow()
            session.add(row)
            session.commit()


def _info(row: ApiToken) -> TokenInfo:
    assert row.id is not None
    return TokenInfo(
        id=row.id,
        prefix=row.prefix,
        scope=TokenScope(row.scope),
        description=row.description,
        created_at=row.created_at,
        revoked=row.revoked_at is not None,
        expires_at=row.expires_at,
        projects=tuple(json.loads(row.projects)) if row.projects is not None else None,
    )
