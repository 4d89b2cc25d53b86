"""The inbox's lists and counts: indexed rows only, never a deserialized workflow.

待办 (todo): open rows assigned to me, and unclaimed rows where I am a candidate.
已办 (done): rows I completed.  我发起的 (started): cases I started.  抄送我的 (copied): cases copied to me.
"""
from __future__ import annotations

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from engine.runtime import access
from engine.store.models import CaseCopy, Instance, Task, TaskCandidate, User


def _mine(user: User):
    return Task.assignee_id == user.id


def _group(user: User):
    return and_(Task.assignee_id.is_(None),
                exists().where(TaskCandidate.task_id == Task.id, TaskCandidate.user_id == user.id))


def todo(session: Session, *, user: User, scope: str = "all", limit: int = 50, offset: int = 0) -> list[Task]:
    """scope mine: assigned to me; group: unclaimed, I am a candidate; all: both;
    every: every open task (企管部 and admin only, others get `all`)."""
    query = select(Task).where(Task.state == "open")
    if scope == "mine":
        query = query.where(_mine(user))
    elif scope == "group":
        query = query.where(_group(user))
    elif not (scope == "every" and access.sees_all(user)):
        query = query.where(or_(_mine(user), _group(user)))
    return list(session.scalars(query.order_by(Task.created_at.desc(), Task.id).limit(limit).offset(offset)))


def todo_count(session: Session, *, user: User) -> int:
    return session.scalar(select(func.count()).select_from(Task).where(
        Task.state == "open", or_(_mine(user), _group(user))))


def done(session: Session, *, user: User, limit: int = 50, offset: int = 0) -> list[Task]:
    return list(session.scalars(
        select(Task).where(Task.completed_by == user.id, Task.state == "completed")
        .order_by(Task.completed_at.desc(), Task.id).limit(limit).offset(offset)))


def started(session: Session, *, user: User, status: str | None = None, limit: int = 50,
            offset: int = 0) -> list[Instance]:
    query = select(Instance).where(Instance.initiator_id == user.id)
    if status:
        query = query.where(Instance.status == status)
    return list(session.scalars(query.order_by(Instance.created_at.desc(), Instance.id.desc())
                                .limit(limit).offset(offset)))


def copied(session: Session, *, user: User, limit: int = 50, offset: int = 0) -> list[tuple[CaseCopy, Instance]]:
    rows = session.execute(
        select(CaseCopy, Instance).join(Instance, Instance.id == CaseCopy.instance_id)
        .where(CaseCopy.user_id == user.id).order_by(CaseCopy.at.desc(), CaseCopy.id.desc())
        .limit(limit).offset(offset))
    return [(c, i) for c, i in rows]


def copied_unread_count(session: Session, *, user: User) -> int:
    return session.scalar(select(func.count()).select_from(CaseCopy).where(
        CaseCopy.user_id == user.id, CaseCopy.read_at.is_(None)))
