"""Changing procedures: drafts from the modeler, validation while editing, the change proposal,
version history, rollback, and migrating running cases (admin)."""

from __future__ import annotations

from flask import Response

from engine.definitions import catalogue, drafts
from engine.definitions import deploy as deployment
from engine.definitions import views as process_views
from engine.definitions.validation import DiagramTooLarge
from engine.errors import DefinitionError
from engine.flows import changes
from engine.runtime import migration, views
from engine.store.models import ProcessDraft
from webapp.api import Blueprint
from webapp.api.schemas import (
    ContentOut,
    DefinitionIn,
    DeployResponse,
    DirectDeployIn,
    DraftOut,
    DraftSaveIn,
    DraftSummary,
    MigrationIn,
    MigrationOut,
    ProposeOut,
    RoleOut,
    ValidateIn,
    ValidationOut,
    VersionOut,
    VersionQuery,
)
from webapp.auth import current_user, require_role
from webapp.request_session import db_session, reads_only

blp = Blueprint("definitions", __name__, description="流程变更：草稿、校验、申请变更、版本、回滚、实例迁移")


def _draft_out(session, draft: ProcessDraft, *, content: bool = True) -> dict:
    names = catalogue.display_names(session, [draft.created_by, draft.updated_by])
    out = {
        c: getattr(draft, c)
        for c in (
            "id",
            "process_key",
            "name",
            "base_version",
            "rollback_of",
            "change_instance_id",
            "activated_version",
            "lock_version",
            "updated_at",
        )
    }
    out.update(
        state=drafts.state_of(session, draft),
        editable=drafts.editable(session, draft),
        created_by=names.get(draft.created_by),
        updated_by=names.get(draft.updated_by),
    )
    if content:
        out.update(bpmn_xml=draft.bpmn_xml, forms=draft.forms or {})
    return out


@blp.route("/roles", methods=["GET"])
@blp.response(200, RoleOut(many=True))
def list_roles():
    """Role codes a lane may name (with `@field` / `!exclusion` forms, see the library guide)."""
    return process_views.roles(db_session())


@blp.route("/processes/<key>/content", methods=["GET"])
@blp.arguments(VersionQuery, location="query")
@blp.response(200, ContentOut)
def get_content(args, key):
    """A version's diagram and the forms frozen with it (the live version by default)."""
    version = deployment.get_version(db_session(), key, args.get("version"))
    return {
        "key": key,
        "name": version.name,
        "version": version.version,
        "bpmn_xml": version.bpmn_xml,
        "forms": version.forms or {},
    }


@blp.route("/processes/<key>/versions", methods=["GET"])
@blp.response(200, VersionOut(many=True))
def list_versions(key):
    session = db_session()
    deployment.get_version(session, key)  # 404 for an unknown procedure
    return catalogue.versions(session, key)


@blp.route("/processes/catalogue.xlsx", methods=["GET"])
@blp.response(200)
def export_catalogue():
    """流程清单 as an Excel workbook."""
    data = catalogue.to_xlsx(catalogue.catalogue(db_session()))
    return Response(
        data,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": "attachment; filename=process-catalogue.xlsx; "
            "filename*=UTF-8''%E6%B5%81%E7%A8%8B%E6%B8%85%E5%8D%95.xlsx"
        },
    )


@blp.route("/definitions/validate", methods=["POST"])
@blp.arguments(ValidateIn)
@blp.response(200, ValidationOut)
@reads_only
def validate_definition(body):
    """The checks of `bpm validate`, for the modeler while editing: errors name their element. For those
    who may edit diagrams (admins, process_owner, holders of a procedure's owner role; with `process_key`,
    of that procedure). Reads only; a diagram over the size limits is refused with 400."""
    session, user = db_session(), current_user()
    drafts.check_may_validate(session, user, body.get("process_key"))
    try:
        drafts.validate(session, body["bpmn_xml"], body["forms"], body.get("process_key"))
    except DiagramTooLarge:
        raise
    except DefinitionError as exc:
        return {"valid": False, "errors": exc.errors}
    return {"valid": True, "errors": []}


@blp.route("/processes/<key>/drafts", methods=["GET"])
@blp.response(200, DraftSummary(many=True))
def list_drafts(key):
    session, user = db_session(), current_user()
    drafts.check_may_model(session, user, key)
    return [_draft_out(session, d, content=False) for d in drafts.for_process(session, key)]


@blp.route("/processes/<key>/drafts", methods=["POST"])
@blp.arguments(DefinitionIn)
@blp.response(201, DraftOut)
def create_draft(body, key):
    """Save the modeler's diagram and forms as a new draft (refused with element errors if invalid)."""
    session = db_session()
    draft = drafts.create(session, user=current_user(), process_key=key, bpmn_xml=body["bpmn_xml"], forms=body["forms"])
    return _draft_out(session, draft)


@blp.route("/processes/<key>/versions/<int:version>/rollback", methods=["POST"])
@blp.response(201, DraftOut)
def rollback_version(key, version):
    """A draft restoring an old version; it goes live as a new version through 申请变更."""
    session = db_session()
    return _draft_out(session, drafts.rollback(session, user=current_user(), process_key=key, version=version))


@blp.route("/drafts/<int:draft_id>", methods=["GET"])
@blp.response(200, DraftOut)
def get_draft(draft_id):
    session = db_session()
    return _draft_out(session, changes.readable(session, draft_id, user=current_user()))


@blp.route("/drafts/<int:draft_id>/diff", methods=["GET"])
@blp.response(200)
def draft_diff(draft_id):
    """Elements added, removed and changed against the live version; forms likewise."""
    session = db_session()
    return drafts.diff(session, changes.readable(session, draft_id, user=current_user()))


@blp.route("/drafts/<int:draft_id>", methods=["PUT"])
@blp.arguments(DraftSaveIn)
@blp.response(200, DraftOut)
def save_draft(body, draft_id):
    session = db_session()
    draft = drafts.save(
        session,
        draft_id,
        user=current_user(),
        bpmn_xml=body["bpmn_xml"],
        forms=body["forms"],
        lock_version=body["lock_version"],
    )
    return _draft_out(session, draft)


@blp.route("/drafts/<int:draft_id>", methods=["DELETE"])
@blp.response(204)
def discard_draft(draft_id):
    drafts.discard(db_session(), draft_id, user=current_user())
    return ""


@blp.route("/drafts/<int:draft_id>/propose", methods=["POST"])
@blp.response(201, ProposeOut)
def propose_draft(draft_id):
    """申请变更: starts a 流程新增/变更审批 case with the draft attached; returns the applicant's first task."""
    session, user = db_session(), current_user()
    case = changes.propose(session, draft_id, user=user)
    return {"instance_id": case.id, "task_id": views.first_open_task_of(session, case.id, user)}


@blp.route("/drafts/<int:draft_id>/deploy", methods=["POST"])
@require_role("admin")
@blp.arguments(DirectDeployIn)
@blp.response(201, DeployResponse)
def deploy_draft(body, draft_id):
    """Admin only: the draft goes live at once, recorded as a direct deploy."""
    version = drafts.deploy_direct(db_session(), draft_id, user=current_user(), note=body.get("note"))
    return {"key": version.process_key, "version": version.version, "created": True}


@blp.route("/processes/<key>/migrations", methods=["POST"])
@require_role("admin")
@blp.arguments(MigrationIn)
@blp.response(200, MigrationOut(many=True))
def migrate_instances(body, key):
    """Move running cases to a newer version where safe. `dry_run` (the default) only says which can move."""
    session = db_session()
    if body["dry_run"]:
        return migration.plan(
            session, process_key=key, to_version=body.get("to_version"), instance_ids=body.get("instance_ids")
        )
    return migration.migrate(
        session,
        process_key=key,
        to_version=body.get("to_version"),
        instance_ids=body.get("instance_ids"),
        actor=current_user(),
    )
