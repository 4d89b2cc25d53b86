"""The inbox's lists and counts: indexed rows only, never a deserialized workflow.

待办 (todo): open rows assigned to me, and unclaimed rows where I am a candidate.
已办 (done): rows I completed.  我发起的 (started): cases I started.  抄送我的 (copied): cases copied to me.

Every query reads an index in the order it returns, or starts from my own rows; none reads the open
tasks of everybody (bench/inbox.py measures them with 100,000 open tasks):
- assigned to me: ix_task_assignee (assignee_id, state, created_at), newest first, stops at offset+limit;
- unclaimed, I am a candidate: from my candidate rows (ix_task_candidate_user), each probed in the small
  partial index ix_task_unclaimed of the open, unclaimed rows (PostgreSQL merge-joins the two). An OR
  of the two in one WHERE, or an EXISTS per open task, would scan every open task for someone with a few;
- both: each part limited to offset+limit, merged in one UNION ALL.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, column, func, literal_column, select, union_all, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnClause, Select, TableClause

from engine.runtime import access
from engine.store.models import CaseCopy, Instance, Task, TaskCandidate, TaskRowState, User, utcnow

# A literal, not a bound parameter: only then can the planners match the partial index ix_task_unclaimed.
OPEN: ColumnClause[Any] = literal_column("'open'")


def _newest_first(query):
    return query.order_by(Task.created_at.desc(), Task.id)


def _mine(user: User):
    return select(Task).where(Task.assignee_id == user.id, Task.state == OPEN)


class _Unclaimed(TableClause):
    """The task table read through ix_task_unclaimed: `task AS unclaimed`, on SQLite with `INDEXED BY`.
    SQLite's planner would pick the primary key and read each row, seven times slower for a busy approver."""

    inherit_cache = True


@compiles(_Unclaimed)
def _compile_unclaimed(element, compiler, **kw):
    if not kw.get("asfrom"):
        return compiler.preparer.quote(element.name)
    if kw.get("from_linter"):
        kw["from_linter"].froms[element] = element.name
    hint = " INDEXED BY ix_task_unclaimed" if compiler.dialect.name == "sqlite" else ""
    return f"task AS {element.name}{hint}"


UNCLAIMED = _Unclaimed("unclaimed", column("id"), column("state"), column("assignee_id"))


def _unclaimed_ids(user: User):
    """Ids of the open, unclaimed tasks I am a candidate for. The correlated EXISTS keeps SQLite's join
    order (my candidate rows outside, the probe inside); PostgreSQL plans it as a (merge) semi-join."""
    probe: Select[Any] = (
        select(literal_column("1"))
        .select_from(UNCLAIMED)
        .where(UNCLAIMED.c.id == TaskCandidate.task_id, UNCLAIMED.c.state == OPEN, UNCLAIMED.c.assignee_id.is_(None))
    )
    return select(TaskCandidate.task_id).where(TaskCandidate.user_id == user.id, probe.exists())


def _group(user: User):
    return select(Task).where(Task.id.in_(_unclaimed_ids(user)))


def todo(session: Session, *, user: User, scope: str = "all", limit: int = 50, offset: int = 0) -> list[Task]:
    """scope mine: assigned to me; group: unclaimed, I am a candidate; all: both;
    every: every open task (企管部 and admin only, others get `all`). Newest first."""
    if scope == "mine":
        query = _newest_first(_mine(user))
    elif scope == "group":
        query = _newest_first(_group(user))
    elif scope == "every" and access.sees_all(user):
        query = _newest_first(select(Task).where(Task.state == OPEN))
    else:
        enough = offset + limit  # the page is among the first offset+limit rows of each part
        parts = [
            _newest_first(part.with_only_columns(Task.id, Task.created_at)).limit(enough).subquery()
            for part in (_mine(user), _group(user))
        ]
        both = union_all(*(select(part) for part in parts)).subquery()
        query = select(Task).join(both, both.c.id == Task.id).order_by(both.c.created_at.desc(), both.c.id)
    return list(session.scalars(query.limit(limit).offset(offset)))


def todo_count(session: Session, *, user: User) -> int:
    mine = select(func.count()).select_from(Task).where(Task.assignee_id == user.id, Task.state == OPEN)
    group = select(func.count()).select_from(_unclaimed_ids(user).subquery())
    return session.scalar(select(mine.scalar_subquery() + group.scalar_subquery())) or 0


def done(session: Session, *, user: User, limit: int = 50, offset: int = 0) -> list[Task]:
    return list(
        session.scalars(
            select(Task)
            .where(Task.completed_by == user.id, Task.state == TaskRowState.COMPLETED)
            .order_by(Task.completed_at.desc(), Task.id)
            .limit(limit)
            .offset(offset)
        )
    )


def started(
    session: Session, *, user: User, status: str | None = None, limit: int = 50, offset: int = 0
) -> list[Instance]:
    query = select(Instance).where(Instance.initiator_id == user.id)
    if status:
        query = query.where(Instance.status == status)
    return list(
        session.scalars(query.order_by(Instance.created_at.desc(), Instance.id.desc()).limit(limit).offset(offset))
    )


def copied(session: Session, *, user: User, limit: int = 50, offset: int = 0) -> list[tuple[CaseCopy, Instance]]:
    rows = session.execute(
        select(CaseCopy, Instance)
        .join(Instance, Instance.id == CaseCopy.instance_id)
        .where(CaseCopy.user_id == user.id)
        .order_by(CaseCopy.at.desc(), CaseCopy.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(c, i) for c, i in rows]


def copied_unread_count(session: Session, *, user: User) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(CaseCopy).where(CaseCopy.user_id == user.id, CaseCopy.read_at.is_(None))
        )
        or 0
    )


def has_unread_copy(session: Session, instance_id: int, user: User) -> bool:
    """Whether this case was copied to this user and they have not opened it since."""
    return (
        session.scalar(
            select(CaseCopy.id).where(
                CaseCopy.instance_id == instance_id, CaseCopy.user_id == user.id, CaseCopy.read_at.is_(None)
            )
        )
        is not None
    )


def mark_copy_read(session: Session, instance_id: int, user: User) -> bool:
    """The copy of this case to this user is read now (opening the case); False if there was none unread."""
    result = cast(
        CursorResult,
        session.execute(  # an UPDATE answers a CursorResult, which has the rowcount
            update(CaseCopy)
            .where(CaseCopy.instance_id == instance_id, CaseCopy.user_id == user.id, CaseCopy.read_at.is_(None))
            .values(read_at=utcnow())
        ),
    )
    return result.rowcount > 0
