"""Server-rendered pages. The full task inbox is built on these; this is the entrance."""
from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for
from sqlalchemy import select

from engine.errors import AuthError
from engine.org import service as org
from engine.runtime import tasks as task_service
from engine.store.models import ProcessDefinition
from webapp.auth import check_csrf_form, csrf_token, log_in, log_out, login_required
from webapp.request_session import db_session

bp = Blueprint("pages", __name__)


@bp.app_context_processor
def inject():
    return {"csrf_token": csrf_token}


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        check_csrf_form()
        try:
            user = org.authenticate(db_session(), request.form.get("username", ""), request.form.get("password", ""))
        except AuthError as exc:
            error = exc.message
        else:
            log_in(user)
            return redirect(url_for("pages.index"))
    return render_template("login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    check_csrf_form()
    log_out()
    return redirect(url_for("pages.login"))


@bp.route("/")
@login_required
def index():
    session = db_session()
    user = g.user
    mine = task_service.list_for(session, user=user, scope="mine")
    group = task_service.list_for(session, user=user, scope="group")
    processes = session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key)).all()
    return render_template("index.html", user=user, mine=mine, group=group, processes=processes)
