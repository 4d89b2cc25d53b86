"""Login, logout and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import redirect, render_template, request, url_for
from flask import session as cookie
from flask_babel import gettext

from engine.errors import AuthError, TooManyRequests
from webapp.auth import authenticate, check_csrf_form, log_in, log_out, public
from webapp.i18n import LANGUAGES
from webapp.pages import bp


def local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site (never another host: no open redirect), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    error = None
    status, headers = (401 if request.method == "POST" else 200), {}
    next_path = local_path(request.values.get("next"))
    if request.method == "POST":
        check_csrf_form()
        try:
            user = authenticate(request.form.get("username", ""), request.form.get("password", ""))
        except TooManyRequests as exc:
            error, status = exc.message, 429
            headers["Retry-After"] = str(exc.retry_after)
        except AuthError as exc:
            error = exc.message
        else:
            lang = cookie.get("lang")
            log_in(user)
            if lang:
                cookie["lang"] = lang  # the language chosen before logging in stays
            return redirect(next_path or url_for("pages.todo"))
    elif request.args.get("expired"):
        error = gettext("登录已过期，请重新登录")
    return (
        render_template("login.html", error=error, next=next_path, username=request.form.get("username", "")),
        status,
        headers,
    )


@bp.route("/logout", methods=["POST"])
@public
def logout():
    check_csrf_form()
    lang = cookie.get("lang")
    log_out()
    if lang:
        cookie["lang"] = lang
    return redirect(url_for("pages.login"))


@bp.route("/lang/<code>")
@public
def language(code: str):
    if code in LANGUAGES:
        cookie["lang"] = code
    back = request.referrer and urlsplit(request.referrer)
    target = None
    if back and back.netloc == request.host:
        target = local_path(back.path + (f"?{back.query}" if back.query else ""))
    return redirect(target or url_for("pages.todo"))
