"""The task page: header, the form (form-js viewer), case summary, diagram, history, attachments, actions.

The form, its prefill and the actions this user may take come from GET /api/v1/tasks/<id> in the page's
JavaScript, which then acts through the API; the rest is rendered here."""
from __future__ import annotations

from flask import g, render_template

from engine.runtime import tasks as task_service
from engine.store.models import Instance, TaskCandidate, utcnow
from webapp.auth import login_required
from webapp.pages import bp
from webapp.pages.case import case_parts
from webapp.pages.common import users_by_id
from webapp.request_session import db_session


@bp.route("/tasks/<task_id>")
@login_required
def task(task_id: str):
    session, user = db_session(), g.user
    row = task_service.get(session, task_id, user=user)  # 403 / 404 pages
    parts = case_parts(session, session.get(Instance, row.instance_id))
    candidate = session.get(TaskCandidate, (row.id, user.id)) is not None
    mine = row.state == "open" and (row.assignee_id == user.id or (row.assignee_id is None and candidate))
    people = users_by_id(session, [row.assignee_id, row.completed_by, row.owner_id])
    # A done task shows what was submitted on it (its completion event), read-only.
    submitted = next((e["data"] for e in reversed(parts["history"])
                      if e["type"] == "task_completed" and e["task_id"] == row.id), None)
    config = {"task_id": row.id, "instance_id": row.instance_id, "submitted": submitted, "me": user.username}
    overdue = row.state == "open" and row.due_at is not None and row.due_at < utcnow()
    return render_template("task.html", task=row, mine=mine, overdue=overdue, assignee=people.get(row.assignee_id),
                           completed_by=people.get(row.completed_by), owner=people.get(row.owner_id),
                           config=config, **parts)
