"""The task page: header, the form (form-js viewer), case summary, diagram, history, attachments, actions.

The form, its prefill and the actions this user may take come from GET /api/v1/tasks/<id> in the page's
JavaScript, which then acts through the API; the rest is rendered here."""

from __future__ import annotations

from flask import g, render_template

from engine.runtime import tasks as task_service
from engine.runtime import views
from webapp.pages import bp
from webapp.pages.case import case_parts
from webapp.request_session import db_session


@bp.route("/tasks/<task_id>")
def task(task_id: str):
    session, user = db_session(), g.user
    row = task_service.get(session, task_id, user=user)  # 403 / 404 pages
    parts = case_parts(session, task_service.case_of(session, row))
    facts = views.task_view(session, row, user, parts["history"])
    config = {"task_id": row.id, "instance_id": row.instance_id, "submitted": facts["submitted"], "me": user.username}
    return render_template(
        "task.html",
        task=row,
        mine=facts["mine"],
        overdue=facts["overdue"],
        assignee=facts["assignee"],
        completed_by=facts["completed_by"],
        owner=facts["owner"],
        config=config,
        **parts,
    )
