"""The case page (/cases/<id>, short link /c/<id>): summary, current steps, diagram, history, attachments."""
from __future__ import annotations

from flask import current_app, g, redirect, render_template, url_for
from sqlalchemy import select

from engine.definitions import drafts
from engine.runtime import inbox, instances
from engine.store.models import (CaseCopy, Instance, ProcessDefinition, ProcessDraft, ProcessVersion, Task,
                                 TaskCandidate, User)
from webapp.auth import login_required
from webapp.pages import bp, nav_counts
from webapp.pages.common import attachments, summary, timeline, users_by_id
from webapp.request_session import db_session

LIVE = ("open", "waiting", "pending")


def case_parts(session, instance: Instance) -> dict:
    """What the case page and the task page both show about a case."""
    version = session.get(ProcessVersion, instance.version_id)
    definition = session.get(ProcessDefinition, instance.process_key)
    steps = list(session.scalars(select(Task).where(Task.instance_id == instance.id, Task.state.in_(LIVE))
                                 .order_by(Task.created_at, Task.seq, Task.id)))
    candidates: dict[str, list[str]] = {}
    unassigned = [t.id for t in steps if t.assignee_id is None]
    if unassigned:
        for task_id, name in session.execute(
                select(TaskCandidate.task_id, User.display_name).join(User, User.id == TaskCandidate.user_id)
                .where(TaskCandidate.task_id.in_(unassigned)).order_by(User.id)):
            candidates.setdefault(task_id, []).append(name)
    people = users_by_id(session, [t.assignee_id for t in steps] + [instance.initiator_id])
    files = attachments(session, instance.id)
    return {
        "case": instance, "version": version,
        "process": definition.name if definition else instance.process_key,
        "initiator": people.get(instance.initiator_id),
        "steps": [{"task": t, "assignee": people.get(t.assignee_id), "candidates": candidates.get(t.id, [])}
                  for t in steps],
        "summary": summary(session, instance, version), "history": timeline(session, instance.id, files),
        "files": files, "change": _proposed_change(session, instance),
    }


def _proposed_change(session, instance: Instance) -> dict | None:
    """A 流程新增/变更 case started from the modeler carries its draft: reviewers see what it changes."""
    draft_id = (instance.data or {}).get("process_draft_id")
    if instance.process_key != drafts.CHANGE_PROCESS or not isinstance(draft_id, int):
        return None
    draft = session.get(ProcessDraft, draft_id)
    if draft is None or draft.change_instance_id != instance.id:
        return None
    return {"draft": draft, "diff": drafts.diff(session, draft)}


@bp.route("/cases/<int:instance_id>")
@login_required
def case(instance_id: int):
    session, user = db_session(), g.user
    instance = instances.get(session, instance_id, user=user)  # 403 / 404 pages
    unread = session.scalar(select(CaseCopy.id).where(CaseCopy.instance_id == instance_id,
                                                      CaseCopy.user_id == user.id, CaseCopy.read_at.is_(None)))
    if unread is not None:
        counts = nav_counts()  # counted before the write, so the badge drops by exactly this copy
        # Opening a case copied to me reads it: a GET that writes, in its own short transaction.
        with current_app.extensions["bpm_db"].session(write=True) as write:
            if inbox.mark_copy_read(write, instance_id, user):
                counts["cc"] = max(0, counts["cc"] - 1)
    return render_template("case.html", **case_parts(session, instance))


@bp.route("/c/<int:instance_id>")
@login_required
def short_link(instance_id: int):
    return redirect(url_for("pages.case", instance_id=instance_id))
