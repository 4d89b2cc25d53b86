"""Who is asking: a bearer token (API) or the login session (pages)."""
from __future__ import annotations

from functools import wraps

from flask import g, request, session as cookie

from engine.errors import AuthError, Forbidden
from engine.org import service as org
from engine.store.models import User
from webapp.request_session import db_session


def current_user() -> User:
    if "user" in g:
        return g.user
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = org.user_for_token(db_session(), header[len("Bearer "):].strip())
    elif cookie.get("user_id") and not request.path.startswith("/api/"):
        user = db_session().get(User, cookie["user_id"])
        if user is None or not user.active:
            cookie.clear()
            raise AuthError("请重新登录")
    else:
        raise AuthError("需要登录：请在 Authorization 头中提供 Bearer 令牌")
    g.user = user
    return user


def require_role(*roles: str):
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user().role_codes & set(roles):
                raise Forbidden(f"需要角色：{', '.join(roles)}")
            return view(*args, **kwargs)
        return wrapped
    return decorator
