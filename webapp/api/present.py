"""Shaping engine rows into API bodies, with batched look-ups (no query per row)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import history
from engine.store.models import Instance, ProcessVersion, Task, TaskCandidate, User


def _usernames(session: Session, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def tasks(session: Session, rows: list[Task]) -> list[dict]:
    if not rows:
        return []
    candidates: dict[str, list[str]] = {}
    for task_id, username in session.execute(
            select(TaskCandidate.task_id, User.username).join(User, User.id == TaskCandidate.user_id)
            .where(TaskCandidate.task_id.in_([t.id for t in rows])).order_by(User.id)):
        candidates.setdefault(task_id, []).append(username)
    names = _usernames(session, [t.assignee_id for t in rows])
    return [{
        "id": t.id, "instance_id": t.instance_id, "name": t.name, "element_id": t.element_id, "role": t.role,
        "assignee": names.get(t.assignee_id), "candidate_users": candidates.get(t.id, []), "state": t.state,
        "form_key": t.form_key, "created_at": t.created_at, "completed_at": t.completed_at, "due_at": t.due_at,
    } for t in rows]


def instances(session: Session, rows: list[Instance], *, open_tasks_only: bool = True) -> list[dict]:
    if not rows:
        return []
    ids = [i.id for i in rows]
    query = select(Task).where(Task.instance_id.in_(ids)).order_by(Task.created_at, Task.id)
    if open_tasks_only:
        query = query.where(Task.state == "open")
    by_instance: dict[int, list[dict]] = {}
    for t in tasks(session, list(session.scalars(query))):
        by_instance.setdefault(t["instance_id"], []).append(t)
    versions = dict(session.execute(select(ProcessVersion.id, ProcessVersion.version)
                                    .where(ProcessVersion.id.in_({i.version_id for i in rows}))).all())
    names = _usernames(session, [i.initiator_id for i in rows])
    return [{
        "id": i.id, "process_key": i.process_key, "version": versions.get(i.version_id), "title": i.title,
        "status": i.status, "initiator": names.get(i.initiator_id), "data": i.data or {}, "error": i.error,
        "parent_instance_id": i.parent_instance_id, "created_at": i.created_at, "updated_at": i.updated_at,
        "completed_at": i.completed_at, "tasks": by_instance.get(i.id, []),
    } for i in rows]


def instance_detail(session: Session, instance: Instance) -> dict:
    body = instances(session, [instance], open_tasks_only=False)[0]
    body["history"] = history.for_instance(session, instance.id)
    body["children"] = [{"id": c.id, "process_key": c.process_key, "title": c.title, "status": c.status}
                        for c in session.scalars(select(Instance).where(Instance.parent_instance_id == instance.id)
                                                 .order_by(Instance.id))]
    return body
