"""通知 (/notifications): my notifications, newest first; following one marks it read.
通知设置 (/settings/notifications): which kinds I get in the app and by e-mail."""

from __future__ import annotations

from flask import g, redirect, render_template, request, url_for
from flask_babel import pgettext

from engine.notifications import KINDS, channels, inapp_list
from engine.notifications import settings as channel_settings
from engine.runtime import views
from webapp.auth import check_csrf_form
from webapp.i18n import N_
from webapp.pages import bp
from webapp.pages.auth import local_path
from webapp.pages.common import PAGE_SIZE, page_arg, pager
from webapp.request_session import db_session


def kind_label(kind: str) -> str:
    """A kind as the pages show it (the engine's labels are Chinese only). In their own context:
    the action 催办 is "Urge", the notification is "Urged"."""
    return {
        "task": pgettext("notification", "新待办"),
        "reminder": pgettext("notification", "到期提醒"),
        "overdue": pgettext("notification", "已逾期"),
        "escalated": pgettext("notification", "超时升级"),
        "urged": pgettext("notification", "催办"),
        "copied": pgettext("notification", "抄送"),
        "notify": pgettext("notification", "流程通知"),
        "completed": pgettext("notification", "流程结束"),
    }.get(kind, kind)


KIND_HINTS = {
    "task": N_("有新任务交给我办理（含转办、委派给我）"),
    "reminder": N_("任务快到期"),
    "overdue": N_("任务已超过办理时限"),
    "escalated": N_("超时的任务升级给我处理"),
    "urged": N_("有人催我办理"),
    "copied": N_("案件抄送给我"),
    "notify": N_("流程中发给我的其他通知"),
    "completed": N_("我发起的案件办结"),
}
CHANNEL_LABELS = {"in_app": N_("站内通知"), "email": N_("邮件")}


@bp.route("/notifications")
def notification_list():
    session, user, page = db_session(), g.user, page_arg()
    unread_only = request.args.get("unread") == "1"
    rows = inapp_list.list_for(session, user.id, unread=unread_only, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    cases = views.instances_by_id(session, [r.instance_id for r in rows if r.instance_id is not None])
    items = [{"n": r, "case": cases.get(r.instance_id)} for r in rows]
    return render_template(
        "notifications.html",
        items=items,
        unread_only=unread_only,
        kind_label=kind_label,
        pager=pager(page, None, len(rows)),
        extra_args={"unread": "1"} if unread_only else {},
    )


@bp.route("/notifications/<int:notification_id>/open")
def notification_open(notification_id: int):
    """Following a notification marks it read, then goes to its task or case."""
    row = inapp_list.open_notification(db_session(), g.user.id, notification_id)
    return redirect(local_path(row.link) or url_for("pages.notification_list"))


@bp.route("/notifications/read-all", methods=["POST"])
def notification_read_all():
    check_csrf_form()
    inapp_list.mark_read(db_session(), g.user.id, all=True)
    return redirect(url_for("pages.notification_list"))


@bp.route("/settings/notifications", methods=["GET", "POST"])
def notification_settings():
    session, user = db_session(), g.user
    if request.method == "POST":
        check_csrf_form()
        # A checkbox left unticked is absent from the form: every kind × channel is set from what is there.
        chosen = set(request.form.getlist("on"))
        channel_settings.save(
            session, user, [{"kind": kind, **{ch: f"{kind}:{ch}" in chosen for ch in channels.NAMES}} for kind in KINDS]
        )
        return redirect(url_for("pages.notification_settings", saved=1))
    return render_template(
        "notification_settings.html",
        settings=channel_settings.of(session, user),
        kind_label=kind_label,
        kind_hints=KIND_HINTS,
        channel_labels=CHANNEL_LABELS,
        saved=request.args.get("saved") == "1",
    )
