"""Who is asking: a bearer token (API clients) or the login session (pages, and the pages' own calls
to the API, which must carry the session's CSRF token in `X-CSRF-Token`).

Sessions expire after `SESSION_IDLE_MINUTES` without a request and, at the latest,
`PERMANENT_SESSION_LIFETIME` after login.
"""
from __future__ import annotations

import secrets
import time
from functools import wraps

from flask import abort, current_app, g, redirect, request, session as cookie, url_for

from engine.errors import AuthError, Forbidden
from engine.org import service as org
from engine.store.models import User
from webapp.request_session import db_session

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def csrf_token() -> str:
    if "csrf" not in cookie:
        cookie["csrf"] = secrets.token_urlsafe(24)
    return cookie["csrf"]


def _csrf_ok(value: str | None) -> bool:
    return bool(value) and "csrf" in cookie and secrets.compare_digest(value, cookie["csrf"])


def check_csrf_form() -> None:
    """For page forms posted the classic way."""
    if not _csrf_ok(request.form.get("csrf")):
        abort(400, "表单已过期，请刷新页面后重试")


def log_in(user: User) -> None:
    cookie.clear()
    cookie.permanent = True
    now = int(time.time())
    cookie.update(user_id=user.id, login_at=now, seen=now)
    csrf_token()


def log_out() -> None:
    cookie.clear()


def session_user() -> User | None:
    """The logged-in user of the session cookie, or None (never logged in, expired, deactivated)."""
    if "session_user" in g:
        return g.session_user
    user = None
    user_id = cookie.get("user_id")
    if user_id is not None:
        now = int(time.time())
        idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
        lifetime = current_app.permanent_session_lifetime.total_seconds()
        if now - cookie.get("seen", 0) > idle or now - cookie.get("login_at", 0) > lifetime:
            cookie.clear()
            g.session_expired = True
        else:
            user = db_session().get(User, user_id)
            if user is None or not user.active:
                cookie.clear()
                user = None
            elif now - cookie.get("seen", 0) >= 60:  # don't rewrite the cookie on every request
                cookie["seen"] = now
    g.session_user = user
    return user


def current_user() -> User:
    if "user" in g:
        return g.user
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = org.user_for_token(db_session(), header[len("Bearer "):].strip())
    else:
        user = session_user()
        if user is None:
            if g.get("session_expired"):
                raise AuthError("登录已过期，请重新登录")
            raise AuthError("需要登录：请在 Authorization 头中提供 Bearer 令牌")
        if request.method not in SAFE_METHODS and not _csrf_ok(request.headers.get("X-CSRF-Token")):
            raise Forbidden("缺少或错误的 CSRF 令牌（X-CSRF-Token），请刷新页面后重试")
    g.user = user
    return user


def login_required(view):
    """For pages: the login page (then back here) when there is no live session."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        user = session_user()
        if user is None:
            return redirect(url_for("pages.login", next=request.full_path.rstrip("?"),
                                    expired=1 if g.get("session_expired") else None))
        g.user = user
        return view(*args, **kwargs)
    return wrapped


def require_role(*roles: str):
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user().role_codes & set(roles):
                raise Forbidden(f"需要角色：{', '.join(roles)}")
            return view(*args, **kwargs)
        return wrapped
    return decorator
