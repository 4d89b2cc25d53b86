"""Who is asking: a bearer token (API clients) or the login session (pages, and the pages' own calls
to the API, which must carry the session's CSRF token in `X-CSRF-Token`).

Sessions expire after `SESSION_IDLE_MINUTES` without a request and, at the latest,
`PERMANENT_SESSION_LIFETIME` after login. The cookie names a server-side session (`sid`, an `api_token`
row of kind `page`): logging out revokes it, so a copy of the cookie taken before stops working.
"""

from __future__ import annotations

import secrets
import time
from functools import wraps

from flask import Flask, abort, current_app, g, redirect, request, url_for
from flask import session as cookie

from engine.errors import AuthError, Forbidden
from engine.org import credentials, login
from engine.store.models import CredentialKind, User
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


def client_address() -> str | None:
    """The client's address; behind `BPM_TRUSTED_PROXIES` proxies, the one they forwarded (ProxyFix)."""
    return request.remote_addr


def authenticate(username: str, password: str) -> User:
    """Check a login (throttled, engine/org/login.py). A failure is committed before the error is
    answered: the request's transaction is otherwise rolled back on any 4xx."""
    session = db_session()
    try:
        return login.authenticate(session, username=username, password=password, address=client_address())
    except AuthError:
        session.commit()
        raise


def log_in(user: User) -> None:
    """A new server-side session (any earlier one of this browser ends: no session outlives a new login)."""
    _end_page_session()
    issued = credentials.issue(
        db_session(),
        user=user,
        kind=CredentialKind.PAGE,
        lifetime=current_app.permanent_session_lifetime,
        client_address=client_address(),
        user_agent=request.user_agent.string,
    )
    cookie.clear()
    cookie.permanent = True
    now = int(time.time())
    cookie.update(user_id=user.id, login_at=now, seen=now, sid=issued.secret)
    csrf_token()


def log_out() -> None:
    """End the page session on the server too, then forget the cookie."""
    _end_page_session()
    cookie.clear()


def _end_page_session() -> None:
    sid = cookie.get("sid")
    if sid:
        try:
            credential, _user = credentials.resolve(db_session(), sid, kind=CredentialKind.PAGE)
        except AuthError:
            return  # already ended
        credentials.revoke(db_session(), credential.id)


def session_user() -> User | None:
    """The logged-in user of the session cookie, or None (never logged in, expired, logged out,
    deactivated)."""
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
            try:
                credential, user = credentials.resolve(db_session(), cookie.get("sid") or "", kind=CredentialKind.PAGE)
            except AuthError:  # logged out elsewhere, revoked, or a cookie from before server-side sessions
                cookie.clear()
                g.session_expired = True
                user = None
            else:
                if user.id != user_id:
                    cookie.clear()
                    user = None
                else:
                    g.credential_id = credential.id
                    if now - cookie.get("seen", 0) >= 60:  # don't rewrite the cookie on every request
                        cookie["seen"] = now
    g.session_user = user
    return user


def current_user() -> User:
    if "user" in g:
        return g.user
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        credential, user = credentials.resolve(db_session(), header[len("Bearer ") :].strip(), kind=CredentialKind.API)
        g.credential_id = credential.id
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


def current_credential_id() -> int | None:
    """The token or page session the current request came with (after current_user())."""
    return g.get("credential_id")


def public(view):
    """A page anyone may open without logging in (the login page, the language switch). API operations
    say the same with flask-smorest's `@blp.doc(security=[])`, which also documents it."""
    view.public = True  # functools.wraps carries it to the registered endpoint
    return view


def _is_public(view) -> bool:
    return (
        bool(getattr(view, "public", False)) or getattr(view, "_apidoc", {}).get("manual_doc", {}).get("security") == []
    )


def init_app(app: Flask, *, api_blueprints: set[str], page_blueprints: set[str]) -> None:
    """Deny by default: every API operation and every page needs a logged-in user unless it declares
    itself public. Checked before the request body is read: without a valid token the answer is 401
    (the API) or the login page, then back here (the pages), whatever the body says."""

    @app.before_request
    def authenticate_first():
        if (
            request.method == "OPTIONS"
            or request.endpoint is None
            or request.blueprint not in api_blueprints | page_blueprints
        ):
            return None
        if _is_public(app.view_functions[request.endpoint]):
            return None
        if request.blueprint in api_blueprints:
            current_user()
            return None
        user = session_user()
        if user is None:
            return redirect(
                url_for(
                    "pages.login", next=request.full_path.rstrip("?"), expired=1 if g.get("session_expired") else None
                )
            )
        g.user = user
        return None


# ---- permissions: who may do what beyond being logged in ----

ADMIN = "admin"


def is_admin(user: User) -> bool:
    return ADMIN in user.role_codes


def check_admin(user: User, message: str) -> None:
    if not is_admin(user):
        raise Forbidden(message)


def require_role(*roles: str):
    """For API operations: 403 unless the user holds one of the roles."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user().role_codes & set(roles):
                raise Forbidden(f"需要角色：{', '.join(roles)}")
            return view(*args, **kwargs)

        return wrapped

    return decorator
