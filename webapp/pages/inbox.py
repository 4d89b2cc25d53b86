"""The four lists: 待办 (/), 已办 (/done), 我发起的 (/started), 抄送我的 (/cc).

Each renders one page of rows; every look-up is batched over the page (no query per row)."""

from __future__ import annotations

from flask import g, render_template, request

from engine.runtime import inbox, views
from engine.store.models import InstanceStatus, TaskKind, utcnow
from webapp.i18n import N_
from webapp.pages import bp, nav_counts
from webapp.pages.common import PAGE_SIZE, STATUS_LABELS, page_arg, pager
from webapp.request_session import db_session


def _cases(session, instance_ids) -> tuple[dict, dict, dict]:
    """Instances, process names and initiators for a page of rows."""
    cases = views.instances_by_id(session, instance_ids)
    names = views.process_names(session, {i.process_key for i in cases.values()})
    initiators = views.users_by_id(session, [i.initiator_id for i in cases.values()])
    return cases, names, initiators


@bp.route("/")
def todo():
    session, user, page = db_session(), g.user, page_arg()
    rows = inbox.todo(session, user=user, scope="all", limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    cases, names, initiators = _cases(session, [t.instance_id for t in rows])
    now = utcnow()
    items = []
    for t in rows:
        case = cases[t.instance_id]
        items.append(
            {
                "task": t,
                "case": case,
                "process": names.get(case.process_key, case.process_key),
                "initiator": initiators.get(case.initiator_id),
                "unclaimed": t.assignee_id is None,
                "overdue": t.is_overdue(now),
                "delegated": t.owner_id is not None and t.assignee_id != t.owner_id,
                "signer": t.kind == TaskKind.SIGNER,
            }
        )
    return render_template("todo.html", items=items, pager=pager(page, nav_counts()["todo"], len(rows)))


@bp.route("/done")
def done():
    session, user, page = db_session(), g.user, page_arg()
    rows = inbox.done(session, user=user, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    cases, names, initiators = _cases(session, [t.instance_id for t in rows])
    items = [
        {
            "task": t,
            "case": cases[t.instance_id],
            "process": names.get(cases[t.instance_id].process_key, cases[t.instance_id].process_key),
            "initiator": initiators.get(cases[t.instance_id].initiator_id),
        }
        for t in rows
    ]
    return render_template("done.html", items=items, pager=pager(page, None, len(rows)))


@bp.route("/started")
def started():
    session, user, page = db_session(), g.user, page_arg()
    status = request.args.get("status") or None
    if status not in STATUS_LABELS:
        status = None
    rows = inbox.started(session, user=user, status=status, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    names = views.process_names(session, {i.process_key for i in rows})
    steps = views.open_step_names(session, [i.id for i in rows])
    items = [
        {"case": i, "process": names.get(i.process_key, i.process_key), "steps": steps.get(i.id, [])} for i in rows
    ]
    filters = [(None, N_("全部"))] + [
        (s, STATUS_LABELS[s])
        for s in (InstanceStatus.RUNNING, InstanceStatus.COMPLETED, InstanceStatus.WITHDRAWN, InstanceStatus.ERROR)
    ]
    return render_template(
        "started.html", items=items, status=status, filters=filters, pager=pager(page, None, len(rows))
    )


@bp.route("/cc")
def copied():
    session, user, page = db_session(), g.user, page_arg()
    rows = inbox.copied(session, user=user, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    names = views.process_names(session, {i.process_key for _, i in rows})
    people = views.users_by_id(session, [c.by_id for c, _ in rows] + [i.initiator_id for _, i in rows])
    items = [
        {
            "cc": c,
            "case": i,
            "process": names.get(i.process_key, i.process_key),
            "by": people.get(c.by_id),
            "initiator": people.get(i.initiator_id),
        }
        for c, i in rows
    ]
    return render_template("cc.html", items=items, pager=pager(page, None, len(rows)))
