"""Server-rendered pages. The full task inbox is built on these; this is the entrance."""
from __future__ import annotations

import secrets

from flask import Blueprint, abort, redirect, render_template, request, session as cookie, url_for
from sqlalchemy import select

from engine.errors import AuthError
from engine.org import service as org
from engine.runtime import tasks as task_service
from engine.store.models import ProcessDefinition, User
from webapp.request_session import db_session

bp = Blueprint("pages", __name__)


def _csrf_token() -> str:
    if "csrf" not in cookie:
        cookie["csrf"] = secrets.token_urlsafe(24)
    return cookie["csrf"]


@bp.app_context_processor
def inject():
    return {"csrf_token": _csrf_token}


def _check_csrf():
    if not secrets.compare_digest(request.form.get("csrf", ""), cookie.get("csrf", "")):
        abort(400, "表单已过期，请刷新页面后重试")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        _check_csrf()
        try:
            user = org.authenticate(db_session(), request.form.get("username", ""), request.form.get("password", ""))
        except AuthError as exc:
            error = exc.message
        else:
            cookie.clear()
            cookie.permanent = True
            cookie["user_id"] = user.id
            return redirect(url_for("pages.index"))
    return render_template("login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    _check_csrf()
    cookie.clear()
    return redirect(url_for("pages.login"))


@bp.route("/")
def index():
    user_id = cookie.get("user_id")
    session = db_session()
    user = session.get(User, user_id) if user_id else None
    if user is None:
        return redirect(url_for("pages.login"))
    mine = task_service.list_for(session, user=user, scope="mine")
    group = task_service.list_for(session, user=user, scope="group")
    processes = session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key)).all()
    return render_template("index.html", user=user, mine=mine, group=group, processes=processes)
