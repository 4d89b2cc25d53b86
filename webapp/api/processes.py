from flask import Response

from engine.definitions import deploy as definitions
from engine.definitions import views as process_views
from engine.runtime import instances as runtime
from engine.runtime import views
from webapp.api import Blueprint
from webapp.api.schemas import (
    DeployRequest,
    DeployResponse,
    InstanceOut,
    ProcessDetail,
    ProcessSummary,
    StartRequest,
    VersionQuery,
)
from webapp.auth import current_user, require_role
from webapp.request_session import db_session

blp = Blueprint("processes", __name__, description="流程定义")


@blp.route("/processes", methods=["GET"])
@blp.response(200, ProcessSummary(many=True))
def list_processes():
    return process_views.live_processes(db_session())


@blp.route("/processes", methods=["POST"])
@require_role("admin")
@blp.arguments(DeployRequest)
@blp.response(201, DeployResponse)
def deploy_process(body):
    """Deploy a diagram (admin only). Identical content is not a new version."""
    result = definitions.deploy(
        db_session(),
        body["bpmn_xml"],
        forms=body.get("forms"),
        actor_id=current_user().id,
        note=body.get("note") or "通过 API 直接部署",
    )
    return {"key": result.version.process_key, "version": result.version.version, "created": result.created}


@blp.route("/processes/<key>", methods=["GET"])
@blp.response(200, ProcessDetail)
def get_process(key):
    return process_views.process_detail(db_session(), key)


@blp.route("/processes/<key>/bpmn", methods=["GET"])
@blp.arguments(VersionQuery, location="query")
@blp.response(200)
def get_bpmn(args, key):
    version = definitions.get_version(db_session(), key, args.get("version"))
    return Response(version.bpmn_xml, mimetype="application/xml")


@blp.route("/processes/<key>/instances", methods=["POST"])
@blp.arguments(StartRequest)
@blp.response(201, InstanceOut)
def start_instance(body, key):
    session = db_session()
    instance = runtime.start(session, process_key=key, user=current_user(), data=body.get("data"))
    return views.instance_bodies(session, [instance])[0]
