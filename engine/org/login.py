"""Logging in with a username and password: throttled per account and per client address, and answered
in the same time whether the account exists or not.

The counts live in the `login_throttle` table, so every web process (several of them on one PostgreSQL)
sees the same ones. An account is the username as typed, known or not: an unknown name is locked exactly
like a real one, so a lock says nothing about who exists. A successful login resets its account's count,
never the address's (else one valid account would reset the count for guessing everyone else's).
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine import clock
from engine.config import login_throttle_settings
from engine.errors import AuthError, TooManyRequests
from engine.org.credentials import wall_clock
from engine.org.passwords import check_password, dummy_hash, is_password_hash
from engine.store.models import LoginThrottle, User

log = logging.getLogger(__name__)


class ThrottleScope(enum.StrEnum):
    ACCOUNT = "account"
    ADDRESS = "address"


@dataclass(frozen=True)
class ThrottlePolicy:
    account_failures: int
    address_failures: int
    window: timedelta
    lock: timedelta

    @classmethod
    def from_environment(cls) -> ThrottlePolicy:
        s = login_throttle_settings()
        return cls(
            account_failures=s["account_failures"],
            address_failures=s["address_failures"],
            window=timedelta(minutes=s["window_minutes"]),
            lock=timedelta(minutes=s["lock_minutes"]),
        )

    def limit(self, scope: ThrottleScope) -> int:
        return self.account_failures if scope is ThrottleScope.ACCOUNT else self.address_failures


WRONG_CREDENTIALS = "用户名或密码错误"


def authenticate(
    session: Session, *, username: str, password: str, address: str | None, policy: ThrottlePolicy | None = None
) -> User:
    """The user whose password this is, or AuthError (401); TooManyRequests (429, with `retry_after`)
    while the account or the address is locked, whatever the password.

    A failure is recorded in `session`: the caller commits it although the answer is an error."""
    policy = policy or ThrottlePolicy.from_environment()
    now = wall_clock()
    keys = _keys(username, address)
    rows = _rows(session, keys, now)
    _refuse_if_locked(rows, now)
    user = session.scalar(select(User).where(User.username == username))
    if _password_matches(user, password) and user is not None and user.active:
        session.execute(
            delete(LoginThrottle).where(
                LoginThrottle.scope == ThrottleScope.ACCOUNT.value, LoginThrottle.key == keys[ThrottleScope.ACCOUNT]
            )
        )
        return user
    _record_failure(session, rows, keys, now, policy)
    raise AuthError(WRONG_CREDENTIALS)


def _password_matches(user: User | None, password: str) -> bool:
    """The same scrypt work for an unknown user, a user who cannot log in and a real one: the answer's
    timing must not tell them apart."""
    stored = user.password_hash if user is not None and is_password_hash(user.password_hash) else None
    matches = check_password(stored or dummy_hash(), password)
    return matches and stored is not None


def _keys(username: str, address: str | None) -> dict[ThrottleScope, str]:
    keys = {ThrottleScope.ACCOUNT: username.strip().lower()[:255]}
    if address:
        keys[ThrottleScope.ADDRESS] = address[:255]
    return keys


def _rows(session: Session, keys: dict[ThrottleScope, str], now: datetime) -> dict[ThrottleScope, LoginThrottle]:
    """This attempt's counters. The account's is created if missing and locked for the whole attempt
    (PostgreSQL: FOR UPDATE; SQLite: the write lock is held anyway), so concurrent guesses at one account
    are counted one after the other and none slips past the limit. The address's is only read here (an
    office behind one address does not log in one at a time) and locked when a failure is counted."""
    rows = {ThrottleScope.ACCOUNT: _new_row(session, ThrottleScope.ACCOUNT, keys[ThrottleScope.ACCOUNT], now)}
    if ThrottleScope.ADDRESS in keys:
        row = session.get(
            LoginThrottle, (ThrottleScope.ADDRESS.value, keys[ThrottleScope.ADDRESS]), populate_existing=True
        )
        if row is not None:
            rows[ThrottleScope.ADDRESS] = row
    return rows


def _refuse_if_locked(rows: dict[ThrottleScope, LoginThrottle], now: datetime) -> None:
    locks = {
        scope: row.locked_until
        for scope, row in rows.items()
        if row.locked_until is not None and row.locked_until > now
    }
    if not locks:
        return
    until = max(locks.values())
    seconds = max(1, math.ceil((until - now).total_seconds()))
    minutes = math.ceil(seconds / 60)
    who = "该账号" if ThrottleScope.ACCOUNT in locks else "您所在的网络地址"
    raise TooManyRequests(
        f"{who}登录失败次数过多，已暂时锁定，请于 {clock.local(until):%H:%M} 后（约 {minutes} 分钟后）再试",
        retry_after=seconds,
    )


def _record_failure(
    session: Session,
    rows: dict[ThrottleScope, LoginThrottle],
    keys: dict[ThrottleScope, str],
    now: datetime,
    policy: ThrottlePolicy,
) -> None:
    for scope, key in keys.items():
        row = rows[scope] if scope is ThrottleScope.ACCOUNT else _new_row(session, scope, key, now)
        if row.window_started_at <= now - policy.window or (row.locked_until is not None and row.locked_until <= now):
            row.failures, row.window_started_at, row.locked_until = 0, now, None  # a new window
        row.failures += 1
        if row.failures >= policy.limit(scope):
            row.locked_until = now + policy.lock
            log.warning(
                "login locked for %s minutes after %s failures: %s %s",
                int(policy.lock.total_seconds() // 60),
                row.failures,
                scope.value,
                key,
            )
    # Counters nobody has touched for a window and that lock nothing are forgotten; those another attempt
    # holds right now are left to the next one (no waiting, no deadlock between two clean-ups).
    stale = select(LoginThrottle.scope, LoginThrottle.key).where(
        LoginThrottle.window_started_at <= now - policy.window,
        LoginThrottle.locked_until.is_(None) | (LoginThrottle.locked_until <= now),
    )
    if session.get_bind().dialect.name == "postgresql":
        stale = stale.with_for_update(skip_locked=True)
    session.execute(
        delete(LoginThrottle)
        .where(tuple_(LoginThrottle.scope, LoginThrottle.key).in_(stale))
        .execution_options(synchronize_session=False)
    )
    session.flush()


def _new_row(session: Session, scope: ThrottleScope, key: str, now: datetime) -> LoginThrottle:
    """The counter, created if missing: a concurrent first failure on the same key waits for this one
    instead of failing on the primary key."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(LoginThrottle)
        .values(scope=scope.value, key=key, failures=0, window_started_at=now)
        .on_conflict_do_nothing(index_elements=["scope", "key"])
    )
    return session.get_one(LoginThrottle, (scope.value, key), with_for_update=True, populate_existing=True)
