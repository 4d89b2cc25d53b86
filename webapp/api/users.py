from engine.org import service as org
from webapp.api import Blueprint
from webapp.api.schemas import UserOut, UserQuery
from webapp.request_session import db_session

blp = Blueprint("users", __name__, description="人员（转办、委派、加签、抄送时选人）")


@blp.route("/users", methods=["GET"])
@blp.arguments(UserQuery, location="query")
@blp.response(200, UserOut(many=True))
def list_users(args):
    return org.find_users(db_session(), args["q"], limit=args["limit"])
