"""Diagram code that keeps running into its limits is paused, so it cannot stall the system again.

Every hit of a limit (CPU time, wall clock, memory: engine/script_runner.py; a step that loops without
end: engine/runtime/step.py) is counted against the code's source in its procedure (a SHA-256), in the
transaction of the step that hit it. Once a piece of code has hit
its limits BPM_SCRIPT_QUARANTINE_HITS times (default 2), it is paused: a step that would run it fails
at once, without starting it, and says why. Each hit costs the system up to the wall-clock limit (on
SQLite the whole database's write lock is held that long), so this is what bounds the harm one bad
diagram can do. A new version with corrected code is not affected (its source differs); an admin may
release paused code (`bpm quarantine --release`), which gives it the same number of chances again.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine import clock, limits
from engine.errors import NotFound
from engine.store.models import CodeQuarantine


def hits_to_pause() -> int:
    return limits.QUARANTINE_HITS.value()


def code_hash(source: str, process_key: str | None) -> str:
    """The code as one procedure runs it: the same text in another procedure is counted apart."""
    return hashlib.sha256(f"{process_key or ''}\n{source.strip()}".encode()).hexdigest()


def paused(session: Session, source: str, process_key: str | None) -> CodeQuarantine | None:
    """The row of this code if it is paused now."""
    return session.scalar(
        select(CodeQuarantine).where(
            CodeQuarantine.code_hash == code_hash(source, process_key), CodeQuarantine.paused_at.is_not(None)
        )
    )


def pause_message(row: CodeQuarantine) -> str:
    return (
        f"该代码已暂停执行：它已 {row.hits} 次超出资源上限（最近一次：{row.last_error}）。"
        "请流程所有者修正流程并通过变更审批发布新版本；管理员确认后可解除暂停"
    )


def record_hit(
    session: Session, source: str, *, process_key: str | None, element_id: str | None, error: str
) -> CodeQuarantine:
    """Count one hit of the limits; pause the code once it reached the threshold. Concurrent hits
    of the same code (several processes) add up: one upsert."""
    now = clock.now()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    digest = code_hash(source, process_key)
    statement = insert(CodeQuarantine).values(
        code_hash=digest,
        process_key=process_key,
        element_id=element_id,
        source=source,
        hits=1,
        last_error=error,
        last_hit_at=now,
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[CodeQuarantine.code_hash],
            set_={
                "hits": CodeQuarantine.hits + 1,
                "last_error": error,
                "last_hit_at": now,
                "process_key": process_key,
                "element_id": element_id,
            },
        )
    )
    session.execute(
        update(CodeQuarantine)
        .where(
            CodeQuarantine.code_hash == digest,
            CodeQuarantine.paused_at.is_(None),
            CodeQuarantine.hits >= hits_to_pause(),
        )
        .values(paused_at=now)
        .execution_options(synchronize_session=False)
    )
    return session.get_one(CodeQuarantine, digest, populate_existing=True)


def listing(session: Session, *, paused_only: bool = False) -> list[CodeQuarantine]:
    query = select(CodeQuarantine).order_by(CodeQuarantine.last_hit_at.desc())
    if paused_only:
        query = query.where(CodeQuarantine.paused_at.is_not(None))
    return list(session.scalars(query))


def release(session: Session, digest: str, *, user_id: int | None) -> CodeQuarantine:
    """Let paused code run again, with the same number of chances as new code."""
    row = session.get(CodeQuarantine, digest)
    if row is None:
        raise NotFound(f"没有记录该代码：{digest}")
    row.hits, row.paused_at = 0, None
    row.released_at, row.released_by_id = clock.now(), user_id
    return row
