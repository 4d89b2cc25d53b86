"""申请变更: a draft proposed for change approval starts a process_change case (流程新增/变更审批) that
carries it; whoever may see that case may read the draft it carries (engine/definitions/drafts.py holds
the drafts themselves)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine import clock
from engine.definitions import deploy, drafts
from engine.errors import Conflict, Forbidden
from engine.runtime import access, instances
from engine.store.models import DraftState, Instance, ProcessDraft, User


def readable(session: Session, draft_id: int, *, user: User) -> ProcessDraft:
    """Modelers read drafts; so does everyone who may see the change case it is attached to."""
    draft = drafts.get(session, draft_id)
    if drafts.may_model(user, drafts.owner_role(session, draft.process_key)):
        return draft
    case = drafts.proposal_case(session, draft)
    if case is not None and access.can_view(session, user, case):
        return draft
    raise Forbidden("无权查看该流程草稿")


def propose(session: Session, draft_id: int, *, user: User) -> Instance:
    """申请变更: start a process_change case carrying the draft. One proposal per procedure at a time."""
    draft = drafts.locked(session, draft_id)
    drafts.check_may_model(session, user, draft.process_key)
    if drafts.state_of(session, draft) != DraftState.DRAFT:
        raise Conflict("该草稿已提交过变更申请" if draft.state == DraftState.PROPOSED else "草稿已生效或已删除")
    for other in drafts.for_process(session, draft.process_key):
        if other.id != draft.id and drafts.state_of(session, other) == DraftState.PROPOSED:
            raise Conflict(
                f"流程“{draft.name}”已有变更申请在审批中（案件 #{other.change_instance_id}），请等待其结束后再申请"
            )
    drafts.validate(session, draft.bpmn_xml, draft.forms, draft.process_key)  # the library may have changed since
    live = deploy.latest_version(session, draft.process_key)
    changes = drafts.diff(session, draft)
    content = changes["summary"]
    if draft.rollback_of:
        content = f"回滚到版本 {draft.rollback_of}。{content}"
    data = {
        "process_key": draft.process_key,
        "process_name": draft.name,
        "change_type": "change" if live else "new",
        "content": content[:2000],
    }
    if user.department is not None:
        data["responsible_dept"] = user.department.code
    case = instances.start(
        session, process_key=drafts.CHANGE_PROCESS, user=user, engine_data={**data, "process_draft_id": draft.id}
    )
    draft.state, draft.change_instance_id = DraftState.PROPOSED, case.id
    draft.updated_by, draft.updated_at = user.id, clock.now()
    return case
