"""The case page (/cases/<id>, short link /c/<id>): summary, current steps, diagram, history, attachments."""

from __future__ import annotations

from flask import current_app, g, redirect, render_template, url_for

from engine.runtime import inbox, instances, views
from engine.store.models import Instance
from webapp.pages import bp, nav_counts
from webapp.pages.common import attachments, summary, timeline
from webapp.request_session import db_session


def case_parts(session, instance: Instance) -> dict:
    """What the case page and the task page both show about a case."""
    case = views.case_view(session, instance)
    files = attachments(case)
    return {
        "case": instance,
        "version": case["version"],
        "process": case["process"],
        "initiator": case["initiator"],
        "steps": case["steps"],
        "summary": summary(session, instance, case["version"]),
        "history": timeline(session, case, files),
        "files": files,
        "change": case["change"],
    }


@bp.route("/cases/<int:instance_id>")
def case(instance_id: int):
    session, user = db_session(), g.user
    instance = instances.get(session, instance_id, user=user)  # 403 / 404 pages
    if inbox.has_unread_copy(session, instance_id, user):
        counts = nav_counts()  # counted before the write, so the badge drops by exactly this copy
        # Opening a case copied to me reads it: a GET that writes, in its own short transaction.
        with current_app.extensions["bpm_db"].session(write=True) as write:
            if inbox.mark_copy_read(write, instance_id, user):
                counts["cc"] = max(0, counts["cc"] - 1)
    return render_template("case.html", **case_parts(session, instance))


@bp.route("/c/<int:instance_id>")
def short_link(instance_id: int):
    return redirect(url_for("pages.case", instance_id=instance_id))
