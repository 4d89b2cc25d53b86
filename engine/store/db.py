"""Database connection, sessions and the per-instance write lock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import create_engine, event, text, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.config import database_url

# The largest integer a column holds: BIGINT ids (signed 64 bits on SQLite and PostgreSQL), and the INTEGER
# columns of the small tables (drafts, version numbers, tokens: 32 bits on PostgreSQL). Ids, offsets and
# versions beyond them name nothing, and the drivers refuse them, so the web layer refuses them first.
MAX_INTEGER = 2**63 - 1
MAX_INTEGER_32 = 2**31 - 1


def fits_32_bits(value: int) -> bool:
    """Whether `value` can be in an INTEGER column at all (a draft's or token's id, a version number):
    one beyond names nothing, and PostgreSQL would refuse the query that asks for it."""
    return 0 <= value <= MAX_INTEGER_32


def make_engine(url: str | None = None, *, lock_timeout: float | None = None, **kwargs) -> Engine:
    """`lock_timeout`: seconds a statement waits for a lock held by another transaction before it fails
    (and the request is answered 503 数据库繁忙); default `BPM_DB_LOCK_TIMEOUT_SECONDS`, 30."""
    url = url or database_url()
    if lock_timeout is None:
        lock_timeout = lock_timeout_seconds()
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"timeout": lock_timeout, "check_same_thread": False}, **kwargs)
        _configure_sqlite(eng, lock_timeout)
        return eng
    kwargs.setdefault("pool_pre_ping", True)
    if url.startswith("postgres"):
        # Without it a row lock held elsewhere is waited on for ever; SKIP LOCKED claims never wait.
        from sqlalchemy.engine import make_url

        connect_args = kwargs.setdefault("connect_args", {})
        given = connect_args.get("options") or make_url(url).query.get("options") or ""
        connect_args["options"] = f"{given} -c lock_timeout={int(lock_timeout * 1000)}".strip()
    return create_engine(url, **kwargs)


def lock_timeout_seconds() -> float:
    return float(os.environ.get("BPM_DB_LOCK_TIMEOUT_SECONDS") or 30)


# SQLite: SQLITE_BUSY (another connection holds the write lock), SQLITE_LOCKED (a table within one).
_SQLITE_BUSY_CODES = {5, 6}
# PostgreSQL: lock_not_available (lock_timeout), query_canceled (statement_timeout), deadlock_detected,
# serialization_failure: the transaction was undone and the same request may well succeed if sent again.
_POSTGRES_BUSY_STATES = {"55P03", "57014", "40P01", "40001"}


def is_busy(error: BaseException) -> bool:
    """Whether a database error means 'busy, try again' rather than a fault."""
    orig = getattr(error, "orig", error)
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _SQLITE_BUSY_CODES  # extended codes keep the primary code in the low byte
    if getattr(orig, "sqlstate", None) in _POSTGRES_BUSY_STATES:
        return True
    return "database is locked" in str(orig) or "database table is locked" in str(orig)


def _configure_sqlite(eng: Engine, lock_timeout: float) -> None:
    # pysqlite's own transaction handling defers BEGIN until the first write, which breaks
    # row-lock semantics; take control of BEGIN ourselves (SQLAlchemy's documented recipe).
    @event.listens_for(eng, "connect")
    def on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(lock_timeout * 1000)}")
        cur.close()

    @event.listens_for(eng, "begin")
    def on_begin(conn):
        # A unit of work that will write takes the write lock up front: upgrading a read
        # transaction to a write one later fails at once in WAL mode if another writer committed.
        immediate = conn.get_execution_options().get("sqlite_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """One per process: the engine and a session factory."""

    def __init__(self, url: str | None = None, **engine_kwargs):
        self.url = url or database_url()
        self.engine = make_engine(self.url, **engine_kwargs)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        self.WriteSession = sessionmaker(self.engine.execution_options(sqlite_immediate=True), expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on any exception."""
        session = self.WriteSession() if write else self.Session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def fresh_postgres_database(url: str, suffix: str) -> str:
    """A PostgreSQL database of our own beside the one `url` names (`<name><suffix>`), dropped and
    created anew: what tests and benchmarks run in, never the given database itself."""
    from sqlalchemy.engine import make_url

    base = make_url(url)
    if base.drivername in ("postgres", "postgresql"):
        base = base.set(drivername="postgresql+psycopg")
    name = f"{base.database}{suffix}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def locked_instance(session: Session, instance_id: int):
    """The instance, read fresh under its write lock (`lock_instance`); None if no such row.
    On PostgreSQL the lock and the read are one statement."""
    from engine.store.models import Instance

    if session.get_bind().dialect.name == "postgresql":
        return session.get(Instance, instance_id, with_for_update=True, populate_existing=True)
    return session.get(Instance, instance_id, populate_existing=True) if lock_instance(session, instance_id) else None


def lock_instance(session: Session, instance_id: int) -> bool:
    """Take the instance's write lock for the rest of the transaction; False if no such row.

    On PostgreSQL this is a row lock (SELECT ... FOR UPDATE). On SQLite a no-op UPDATE as the
    transaction's first statement takes the database write lock, which is SQLite's finest grain.
    """
    from engine.store.models import Instance

    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(text("SELECT id FROM instance WHERE id = :id FOR UPDATE"), {"id": instance_id}).first()
        return row is not None
    # An UPDATE's result is a CursorResult (with rowcount); Session.execute is typed as any Result.
    result = cast(
        CursorResult[Any],
        session.execute(
            update(Instance)
            .where(Instance.id == instance_id)
            .values(lock_version=Instance.lock_version)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount == 1
