from engine.org import service as org
from webapp.api import Blueprint
from webapp.api.schemas import TokenRequest, TokenResponse
from webapp.request_session import db_session

blp = Blueprint("auth", __name__, description="登录令牌")


@blp.route("/auth/token", methods=["POST"])
@blp.arguments(TokenRequest)
@blp.response(200, TokenResponse)
@blp.doc(security=[])
def issue_token(body):
    """Exchange a username and password for a bearer token."""
    session = db_session()
    user = org.authenticate(session, body["username"], body["password"])
    return {"token": org.issue_token(session, user), "expires_in": int(org.TOKEN_LIFETIME.total_seconds())}
