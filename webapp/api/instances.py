from engine.runtime import actions, views
from engine.runtime import instances as runtime
from webapp.api import Blueprint
from webapp.api.schemas import (
    CommentRequest,
    CopyRequest,
    DiagramOut,
    InstanceDetail,
    InstanceOut,
    InstanceQuery,
    PeopleOut,
    RetryRequest,
)
from webapp.auth import current_user
from webapp.request_session import db_session

blp = Blueprint("instances", __name__, description="流程案件")


@blp.route("/instances", methods=["GET"])
@blp.arguments(InstanceQuery, location="query")
@blp.response(200, InstanceOut(many=True))
def list_instances(args):
    session = db_session()
    rows = runtime.list_visible(
        session,
        user=current_user(),
        status=args["status"],
        mine=args["mine"],
        limit=args["limit"],
        offset=args["offset"],
    )
    return views.instance_bodies(session, rows)


@blp.route("/instances/<int:instance_id>", methods=["GET"])
@blp.response(200, InstanceDetail)
def get_instance(instance_id):
    session = db_session()
    user = current_user()
    return views.instance_detail(session, runtime.get(session, instance_id, user=user), user)


@blp.route("/instances/<int:instance_id>/retry", methods=["POST"])
@blp.arguments(RetryRequest)
@blp.response(200, InstanceDetail)
def retry_instance(body, instance_id):
    """Run the failed step again after an error (the initiator, 企管部, admins). With `data`: an admin's data
    correction, with a `reason`; fields an approval step decided cannot be changed."""
    session = db_session()
    user = current_user()
    case = runtime.retry(session, instance_id, user=user, data=body["data"], reason=body["reason"])
    return views.instance_detail(session, case, user)


@blp.route("/instances/<int:instance_id>/withdraw", methods=["POST"])
@blp.arguments(CommentRequest)
@blp.response(200, InstanceDetail)
def withdraw_instance(body, instance_id):
    """撤回 by the initiator while nobody has acted on the next step: back to their own step to change it."""
    session = db_session()
    user = current_user()
    case = actions.withdraw(session, instance_id, user=user, comment=body["comment"])
    return views.instance_detail(session, case, user)


@blp.route("/instances/<int:instance_id>/cc", methods=["POST"])
@blp.arguments(CopyRequest)
@blp.response(200, PeopleOut)
def copy_instance(body, instance_id):
    """抄送: the people may read the case; answers who was newly copied."""
    return {
        "users": actions.copy_to(
            db_session(), instance_id, user=current_user(), usernames=body["users"], comment=body["comment"]
        )
    }


@blp.route("/instances/<int:instance_id>/urge", methods=["POST"])
@blp.arguments(CommentRequest)
@blp.response(200, PeopleOut)
def urge_instance(body, instance_id):
    """催办 the people the case waits on (at most once an hour per case and person); answers whom."""
    return {"users": actions.urge(db_session(), instance_id, user=current_user(), comment=body["comment"])}


@blp.route("/instances/<int:instance_id>/diagram", methods=["GET"])
@blp.response(200, DiagramOut)
def get_diagram(instance_id):
    """The case's diagram (its own version) with the path taken and the current steps, for bpmn-js."""
    session = db_session()
    return runtime.diagram(session, runtime.get(session, instance_id, user=current_user()))
