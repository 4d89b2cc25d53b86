from engine.runtime import instances as runtime
from webapp.api import Blueprint
from webapp.api.present import instance_detail, instances as present_instances
from webapp.api.schemas import DiagramOut, InstanceDetail, InstanceOut, InstanceQuery, RetryRequest
from webapp.auth import current_user
from webapp.request_session import db_session

blp = Blueprint("instances", __name__, description="流程案件")


@blp.route("/instances", methods=["GET"])
@blp.arguments(InstanceQuery, location="query")
@blp.response(200, InstanceOut(many=True))
def list_instances(args):
    session = db_session()
    rows = runtime.list_visible(session, user=current_user(), status=args["status"], mine=args["mine"],
                                limit=args["limit"], offset=args["offset"])
    return present_instances(session, rows)


@blp.route("/instances/<int:instance_id>", methods=["GET"])
@blp.response(200, InstanceDetail)
def get_instance(instance_id):
    session = db_session()
    return instance_detail(session, runtime.get(session, instance_id, user=current_user()))


@blp.route("/instances/<int:instance_id>/retry", methods=["POST"])
@blp.arguments(RetryRequest)
@blp.response(200, InstanceDetail)
def retry_instance(body, instance_id):
    """Run the failed step again after an error, optionally with corrected data."""
    session = db_session()
    return instance_detail(session, runtime.retry(session, instance_id, user=current_user(), data=body["data"]))


@blp.route("/instances/<int:instance_id>/diagram", methods=["GET"])
@blp.response(200, DiagramOut)
def get_diagram(instance_id):
    """The case's diagram (its own version) with the path taken and the current steps, for bpmn-js."""
    session = db_session()
    return runtime.diagram(session, runtime.get(session, instance_id, user=current_user()))
