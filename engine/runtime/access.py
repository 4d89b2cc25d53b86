"""Who may see a case: those who started it, acted on it, may act on it, were copied on it (抄送),
or whose role sees all."""

from __future__ import annotations

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from engine.store.models import CaseCopy, Event, Instance, Task, TaskCandidate, User

SEE_ALL_ROLES = {"qg", "admin"}


def sees_all(user: User) -> bool:
    return bool(user.role_codes & SEE_ALL_ROLES)


def visible_clause(user: User):
    """A WHERE clause on Instance for the cases this user may see."""
    return or_(
        Instance.initiator_id == user.id,
        exists().where(Event.instance_id == Instance.id, Event.actor_id == user.id),
        exists().where(Task.instance_id == Instance.id, Task.assignee_id == user.id),
        exists().where(CaseCopy.instance_id == Instance.id, CaseCopy.user_id == user.id),
        exists().where(
            Task.instance_id == Instance.id, TaskCandidate.task_id == Task.id, TaskCandidate.user_id == user.id
        ),
    )


def can_view(session: Session, user: User, instance: Instance) -> bool:
    if sees_all(user) or instance.initiator_id == user.id:
        return True
    return session.scalar(select(Instance.id).where(Instance.id == instance.id, visible_clause(user))) is not None
