from flask import Response
from sqlalchemy import select

from engine.definitions import deploy as definitions
from engine.store.models import ProcessDefinition, ProcessVersion
from webapp.api import Blueprint
from webapp.api.present import instances as present_instances
from webapp.api.schemas import (DeployRequest, DeployResponse, InstanceOut, ProcessDetail, ProcessSummary,
                                StartRequest, VersionQuery)
from webapp.auth import current_user, require_role
from webapp.request_session import db_session
from engine.runtime import instances as runtime

blp = Blueprint("processes", __name__, description="流程定义")


def _summary(definition: ProcessDefinition, version: ProcessVersion) -> dict:
    return {"key": definition.key, "name": definition.name, "version": version.version,
            "owner_role": definition.owner_role, "category": definition.category,
            "deployed_at": version.deployed_at}


@blp.route("/processes", methods=["GET"])
@blp.response(200, ProcessSummary(many=True))
def list_processes():
    current_user()
    session = db_session()
    rows = session.execute(
        select(ProcessDefinition, ProcessVersion).join(
            ProcessVersion, (ProcessVersion.process_key == ProcessDefinition.key)
            & (ProcessVersion.version == ProcessDefinition.latest_version))
        .order_by(ProcessDefinition.category, ProcessDefinition.key))
    return [_summary(d, v) for d, v in rows]


@blp.route("/processes", methods=["POST"])
@require_role("admin")
@blp.arguments(DeployRequest)
@blp.response(201, DeployResponse)
def deploy_process(body):
    """Deploy a diagram (admin only). Identical content is not a new version."""
    result = definitions.deploy(db_session(), body["bpmn_xml"], forms=body.get("forms"),
                                actor_id=current_user().id, note=body.get("note") or "通过 API 直接部署")
    return {"key": result.version.process_key, "version": result.version.version, "created": result.created}


@blp.route("/processes/<key>", methods=["GET"])
@blp.response(200, ProcessDetail)
def get_process(key):
    current_user()
    session = db_session()
    version = definitions.get_version(session, key)
    definition = session.get(ProcessDefinition, key)
    versions = session.execute(select(ProcessVersion.version, ProcessVersion.deployed_at, ProcessVersion.note)
                               .where(ProcessVersion.process_key == key).order_by(ProcessVersion.version))
    return {**_summary(definition, version), "forms": sorted(version.forms or {}),
            "versions": [{"version": v, "deployed_at": at.isoformat(), "note": note} for v, at, note in versions]}


@blp.route("/processes/<key>/bpmn", methods=["GET"])
@blp.arguments(VersionQuery, location="query")
@blp.response(200)
def get_bpmn(args, key):
    current_user()
    version = definitions.get_version(db_session(), key, args.get("version"))
    return Response(version.bpmn_xml, mimetype="application/xml")


@blp.route("/processes/<key>/instances", methods=["POST"])
@blp.arguments(StartRequest)
@blp.response(201, InstanceOut)
def start_instance(body, key):
    session = db_session()
    instance = runtime.start(session, process_key=key, user=current_user(), data=body.get("data"))
    return present_instances(session, [instance])[0]
