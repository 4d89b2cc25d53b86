"""Server-rendered pages: the task inbox. The pages' JavaScript acts through the REST API.

One module per concern: auth (login, logout, language), inbox (待办, 已办, 我发起的, 抄送我的),
start (发起流程), task (the task page), case (the case page).
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException

from engine.errors import EngineError
from engine.notifications import inapp_list as notification_service
from engine.runtime import inbox as inbox_service
from webapp import errors, i18n
from webapp.auth import csrf_token, session_user
from webapp.i18n import N_, current_lang, js_catalog
from webapp.pages.common import DECISION_LABELS, STATUS_LABELS, TASK_STATE_LABELS, fmt_dt
from webapp.request_session import db_session

bp = Blueprint("pages", __name__)
bp.record_once(lambda state: i18n.init_app(state.app))  # translations come with the pages


@bp.app_template_filter("dt")
def _dt(value) -> str:
    return fmt_dt(value)


@bp.app_context_processor
def inject():
    lang = current_lang()
    return {
        "csrf_token": csrf_token,
        "lang": lang,
        "colon": ": " if lang == "en" else "：",
        "nav_counts": nav_counts,
        "js_catalog": js_catalog,
        "STATUS_LABELS": STATUS_LABELS,
        "TASK_STATE_LABELS": TASK_STATE_LABELS,
        "DECISION_LABELS": DECISION_LABELS,
    }


def nav_counts() -> dict | None:
    """The badges of the nav: open tasks, unread copies and unread notifications (indexed counts)."""
    user = g.get("user")
    if user is None or g.get("broken"):
        return None
    if "nav_counts" not in g:
        session = db_session()
        g.nav_counts = {
            "todo": inbox_service.todo_count(session, user=user),
            "cc": inbox_service.copied_unread_count(session, user=user),
            "notifications": notification_service.unread_count(session, user.id),
        }
    return g.nav_counts


# ---- error pages, in the layout; the API keeps its JSON answers ----

TITLES = {
    400: N_("请求有误"),
    403: N_("无权访问"),
    404: N_("页面不存在"),
    405: N_("请求有误"),
    413: N_("上传内容过大"),
    500: N_("服务器出错了"),
}


def _error_page(code: int, message: str | None):
    if g.get("user") is None:
        user = session_user() if code != 500 else None
        if user is not None:
            g.user = user
    if code >= 500:
        g.broken = True  # the database may be what failed: no badge counts
    return render_template(
        "error.html", code=code, title=gettext(TITLES.get(code, N_("出错了"))), message=message
    ), code


@bp.errorhandler(EngineError)
def _engine_error(exc: EngineError):
    return _error_page(errors.page_status_of(exc), exc.message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    # abort(400, "<Chinese text>") carries a message for people; werkzeug's default texts are English
    default = type(exc).description
    return _error_page(exc.code or 500, exc.description if exc.description != default else None)


@bp.errorhandler(500)
def _server_error(exc):
    return _error_page(500, None)


def _unrouted(exc: HTTPException):
    """404/405 for URLs no view matched: an error page, or the API's JSON under /api/."""
    if request.path.startswith("/api/"):
        api = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
        return api.handle_http_exception(exc)
    return _http_error(exc)


bp.app_errorhandler(404)(_unrouted)
bp.app_errorhandler(405)(_unrouted)

from webapp.pages import auth, case, inbox, modeler, notifications, processes, start, task  # noqa: E402,F401  (routes)
