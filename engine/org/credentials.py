"""Credentials kept server-side so that logging out ends them: API bearer tokens and page sessions.

Each is an `api_token` row holding only the SHA-256 of its secret. A token is accepted while its row
is not revoked, not expired and its user active; logging out revokes the row, so a copy of the token or
of the page cookie taken before stops working at once, in every web process.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.config import session_max_hours, token_lifetime_minutes
from engine.errors import AuthError, NotFound
from engine.store.db import fits_32_bits
from engine.store.models import ApiToken, CredentialKind, User


def wall_clock() -> datetime:
    """Real time, not the engine clock tests move: credentials and login locks expire in real time."""
    return datetime.now(UTC)


def token_lifetime() -> timedelta:
    return timedelta(minutes=token_lifetime_minutes())


def session_lifetime() -> timedelta:
    return timedelta(hours=session_max_hours())


@dataclass(frozen=True)
class Issued:
    id: int
    secret: str
    expires_at: datetime


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(
    session: Session,
    *,
    user: User,
    kind: CredentialKind,
    lifetime: timedelta,
    client_address: str | None = None,
    user_agent: str | None = None,
) -> Issued:
    secret = secrets.token_urlsafe(32)
    now = wall_clock()
    row = ApiToken(
        user_id=user.id,
        token_hash=_hash(secret),
        kind=kind.value,
        created_at=now,
        expires_at=now + lifetime,
        client_address=(client_address or "")[:64] or None,
        user_agent=(user_agent or "")[:255] or None,
    )
    session.add(row)
    session.flush()
    return Issued(id=row.id, secret=secret, expires_at=row.expires_at)


def resolve(session: Session, secret: str, *, kind: CredentialKind) -> tuple[ApiToken, User]:
    """The live credential of this secret and its user, else AuthError. A page session's secret is no
    bearer token and a token opens no page session."""
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _hash(secret), ApiToken.kind == kind.value)
    ).first()
    if row is None:
        raise AuthError("令牌无效")
    credential, user = row
    if credential.revoked or credential.expires_at <= wall_clock() or not user.active:
        raise AuthError("令牌已过期或已撤销" if kind is CredentialKind.API else "登录已失效，请重新登录")
    return credential, user


def revoke(session: Session, credential_id: int) -> None:
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == credential_id, ApiToken.revoked.is_(False))
        .values(revoked=True, revoked_at=wall_clock())
        .execution_options(synchronize_session=False)
    )


def revoke_own(session: Session, *, user: User, credential_id: int) -> None:
    """Revoke one of `user`'s credentials (revoking one already ended is no error); NotFound for
    anyone else's, so that ids say nothing about other people."""
    row = session.get(ApiToken, credential_id) if fits_32_bits(credential_id) else None
    if row is None or row.user_id != user.id:
        raise NotFound(f"令牌不存在：{credential_id}")
    revoke(session, credential_id)


def live_for(session: Session, *, user: User) -> list[ApiToken]:
    """The user's tokens and page sessions that still let someone in, newest first."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False), ApiToken.expires_at > wall_clock())
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )
