"""Logging in for API clients: tokens, logout, and one's own tokens and page sessions."""

from flask import request

from engine.org import credentials
from engine.store.models import CredentialKind
from webapp.api import Blueprint
from webapp.api.schemas import CredentialOut, TokenRequest, TokenResponse
from webapp.auth import authenticate, client_address, current_credential_id, current_user, log_out
from webapp.request_session import db_session

blp = Blueprint("auth", __name__, description="登录令牌")


@blp.route("/auth/token", methods=["POST"])
@blp.arguments(TokenRequest)
@blp.response(200, TokenResponse)
@blp.alt_response(401, description="用户名或密码错误")
@blp.alt_response(429, description="该账号或该地址登录失败次数过多，暂时锁定；`Retry-After` 头给出几秒后可再试")
@blp.doc(security=[])
def issue_token(body):
    """Exchange a username and password for a bearer token (lives `BPM_TOKEN_LIFETIME_MINUTES`, default 60).

    Failed attempts are throttled per account and per client address (`BPM_LOGIN_MAX_FAILURES`, default 5,
    and `BPM_LOGIN_MAX_FAILURES_PER_ADDRESS`, default 50, within `BPM_LOGIN_WINDOW_MINUTES`, default 15):
    then 429 for `BPM_LOGIN_LOCK_MINUTES` (default 15), whatever the password."""
    user = authenticate(body["username"], body["password"])
    lifetime = credentials.token_lifetime()
    issued = credentials.issue(
        db_session(),
        user=user,
        kind=CredentialKind.API,
        lifetime=lifetime,
        client_address=client_address(),
        user_agent=request.user_agent.string,
    )
    return {
        "token": issued.secret,
        "expires_in": int(lifetime.total_seconds()),
        "id": issued.id,
        "expires_at": issued.expires_at,
    }


@blp.route("/auth/logout", methods=["POST"])
@blp.response(204)
def logout():
    """End the credential this call came with: the bearer token (revoked at once, everywhere), or the page
    session of the cookie (the pages' own call, with `X-CSRF-Token`)."""
    if request.headers.get("Authorization", "").startswith("Bearer "):
        credentials.revoke(db_session(), current_credential_id())
    else:
        log_out()


@blp.route("/auth/tokens", methods=["GET"])
@blp.response(200, CredentialOut(many=True))
def my_tokens():
    """My tokens and page sessions that still let someone in, newest first; `current` marks this call's."""
    user = current_user()
    mine = current_credential_id()
    return [
        {
            "id": c.id,
            "kind": c.kind,
            "created_at": c.created_at,
            "expires_at": c.expires_at,
            "client_address": c.client_address,
            "user_agent": c.user_agent,
            "current": c.id == mine,
        }
        for c in credentials.live_for(db_session(), user=user)
    ]


@blp.route("/auth/tokens/<int:token_id>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(404, description="不是我的令牌")
def revoke_token(token_id: int):
    """Revoke one of my tokens or page sessions (e.g. a token that leaked, a browser left logged in)."""
    credentials.revoke_own(db_session(), user=current_user(), credential_id=token_id)
