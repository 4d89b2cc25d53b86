"""Drafts: a procedure being changed in the modeler, and the governed path by which it goes live.

A draft holds a diagram and the forms it uses; nothing runs it. "申请变更" starts a process_change case
(流程新增/变更审批, seed 000 篇2 第九–十五条) with the draft attached (engine/flows/changes.py); when 总经理 approves, the case's
script calls `activate`, which deploys the draft as the next version. An admin may deploy a draft
directly; the version then says so. Running cases stay on the version they started on.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock, history
from engine.definitions import deploy as deployment
from engine.definitions.diff import diff_definitions
from engine.errors import Conflict, DefinitionError, Forbidden, NotFound
from engine.org.service import role_codes
from engine.store.db import fits_32_bits
from engine.store.models import (
    DraftState,
    Event,
    Instance,
    InstanceStatus,
    ProcessDefinition,
    ProcessDraft,
    ProcessVersion,
    Task,
    TaskRowState,
    User,
    UserRole,
)

CHANGE_PROCESS = deployment.CHANGE_PROCESS  # the library's 流程新增/变更审批
EDITOR_ROLES = {"admin", "process_owner"}
# A change to the change procedure itself needs these approvals in its change case, whatever the diagram
# the case runs on (or the draft) says: 企管部 owns process_change and must not remove its own reviewers.
CHANGE_PROCESS_APPROVERS = {"mgmt_rep": "管理者代表", "gm": "总经理"}


def may_model(user: User, owner_role: str | None = None) -> bool:
    """Admins and process owners edit any procedure; the holders of a procedure's owner role edit it."""
    return bool(user.role_codes & EDITOR_ROLES) or (owner_role is not None and owner_role in user.role_codes)


def owner_role(session: Session, process_key: str) -> str | None:
    definition = session.get(ProcessDefinition, process_key)
    return definition.owner_role if definition else None


def check_may_model(session: Session, user: User, process_key: str) -> ProcessDefinition | None:
    definition = session.get(ProcessDefinition, process_key)
    if not may_model(user, definition.owner_role if definition else None):
        owner = f"、流程所有者角色 {definition.owner_role}" if definition and definition.owner_role else ""
        raise Forbidden(f"只有系统管理员、流程所有者（process_owner{owner}）可以编辑流程“{process_key}”")
    return definition


def check_may_validate(session: Session, user: User, process_key: str | None) -> None:
    """Validation is the modeler's tool: for those who may edit some procedure (with `process_key`, that
    one). It costs real work per call, so it is not open to every employee."""
    if process_key is not None:
        check_may_model(session, user, process_key)
        return
    owner_roles = set(
        session.scalars(
            select(ProcessDefinition.owner_role).where(ProcessDefinition.owner_role.is_not(None)).distinct()
        )
    )
    if not (user.role_codes & EDITOR_ROLES or user.role_codes & owner_roles):
        raise Forbidden("只有系统管理员、流程所有者（process_owner）和各流程所有者角色的成员可以校验流程图")


def validate(session: Session, bpmn_xml: str, forms: dict | None, process_key: str | None = None):
    """The checks of `bpm validate`, on what the modeler holds; raises DefinitionError per element."""
    diagram, used_forms = deployment.check(bpmn_xml, known_roles=role_codes(session), forms=forms or {})
    errors: list[dict[str, str | None]] = []
    if process_key is not None and diagram.key != process_key:
        errors.append({"element_id": diagram.key, "message": f"流程标识不能修改：应为 {process_key}（新流程请另建）"})
    for key in sorted(diagram.starts_cases):
        if key != diagram.key and session.get(ProcessDefinition, key) is None:
            errors.append({"element_id": None, "message": f"要发起的流程不存在：{key}"})
    if errors:
        raise DefinitionError(errors)
    return diagram, used_forms


def proposal_case(session: Session, draft: ProcessDraft) -> Instance | None:
    if draft.change_instance_id is None:
        return None
    return session.get(Instance, draft.change_instance_id)


def state_of(session: Session, draft: ProcessDraft) -> str:
    """A proposed draft whose case ended without approval (withdrawn, terminated) is a draft again."""
    if draft.state == DraftState.PROPOSED:
        case = proposal_case(session, draft)
        if case is None or case.status in (InstanceStatus.WITHDRAWN, InstanceStatus.TERMINATED):
            return DraftState.DRAFT
    return draft.state


def editable(session: Session, draft: ProcessDraft) -> bool:
    """Drafts are edited freely; a proposed one only while its case is back with the applicant
    (a reviewer returned it for changes), so reviewers never approve something else than they saw."""
    state = state_of(session, draft)
    if state == DraftState.DRAFT:
        return True
    if state != DraftState.PROPOSED:
        return False
    case = proposal_case(session, draft)
    if case is None:
        return False
    open_rows = list(
        session.scalars(select(Task.assignee_id).where(Task.instance_id == case.id, Task.state == TaskRowState.OPEN))
    )
    return case.status == InstanceStatus.RUNNING and bool(open_rows) and all(a == case.initiator_id for a in open_rows)


def get(session: Session, draft_id: int) -> ProcessDraft:
    draft = session.get(ProcessDraft, draft_id) if fits_32_bits(draft_id) else None
    if draft is None:
        raise NotFound(f"草稿不存在：{draft_id}")
    return draft


def for_process(session: Session, process_key: str) -> list[ProcessDraft]:
    return list(
        session.scalars(
            select(ProcessDraft)
            .where(
                ProcessDraft.process_key == process_key, ProcessDraft.state.in_((DraftState.DRAFT, DraftState.PROPOSED))
            )
            .order_by(ProcessDraft.updated_at.desc())
        )
    )


def create(
    session: Session,
    *,
    user: User,
    process_key: str,
    bpmn_xml: str,
    forms: dict | None = None,
    rollback_of: int | None = None,
) -> ProcessDraft:
    check_may_model(session, user, process_key)
    diagram, _ = validate(session, bpmn_xml, forms, process_key)
    live = deployment.latest_version(session, process_key)
    now = clock.now()
    draft = ProcessDraft(
        process_key=process_key,
        name=diagram.name,
        base_version=live.version if live else None,
        rollback_of=rollback_of,
        bpmn_xml=bpmn_xml,
        forms=dict(forms or {}),
        state=DraftState.DRAFT,
        created_by=user.id,
        created_at=now,
        updated_by=user.id,
        updated_at=now,
        lock_version=0,
    )
    session.add(draft)
    session.flush()
    return draft


def rollback(session: Session, *, user: User, process_key: str, version: int) -> ProcessDraft:
    """A draft whose content is an old version's: it goes live as a new version, through the same path."""
    old = deployment.get_version(session, process_key, version)
    live = deployment.latest_version(session, process_key)
    if live is not None and old.version == live.version:
        raise Conflict(f"版本 {version} 就是当前线上版本，无需回滚")
    return create(
        session,
        user=user,
        process_key=process_key,
        bpmn_xml=old.bpmn_xml,
        forms=old.forms or {},
        rollback_of=old.version,
    )


def save(
    session: Session, draft_id: int, *, user: User, bpmn_xml: str, forms: dict | None, lock_version: int
) -> ProcessDraft:
    draft = locked(session, draft_id)
    check_may_model(session, user, draft.process_key)
    if not editable(session, draft):
        raise Conflict(
            "草稿已提交变更审批，审批中不能修改（退回申请人后可修改）"
            if draft.state == DraftState.PROPOSED
            else "草稿已生效或已删除，不能修改"
        )
    if lock_version != draft.lock_version:
        who = session.get(User, draft.updated_by)
        raise Conflict(
            f"草稿已被{who.display_name if who else '他人'}于 {clock.local(draft.updated_at):%Y-%m-%d %H:%M} "
            f"修改，请重新打开后再编辑"
        )
    diagram, _ = validate(session, bpmn_xml, forms, draft.process_key)
    draft.name, draft.bpmn_xml, draft.forms = diagram.name, bpmn_xml, dict(forms or {})
    draft.updated_by, draft.updated_at = user.id, clock.now()
    draft.lock_version += 1
    session.flush()
    return draft


def discard(session: Session, draft_id: int, *, user: User) -> None:
    draft = locked(session, draft_id)
    check_may_model(session, user, draft.process_key)
    if state_of(session, draft) != DraftState.DRAFT:
        raise Conflict("草稿正在变更审批中或已生效，不能删除")
    draft.state = DraftState.DISCARDED
    draft.updated_by, draft.updated_at = user.id, clock.now()


def diff(session: Session, draft: ProcessDraft) -> dict:
    """What the draft changes against the live version (what reviewers see); once it is live, what it
    changed against the version before it."""
    live = deployment.latest_version(session, draft.process_key)
    if draft.state == DraftState.ACTIVATED and draft.activated_version:
        live = (
            deployment.get_version(session, draft.process_key, draft.activated_version - 1)
            if draft.activated_version > 1
            else None
        )
    return diff_definitions(
        live.bpmn_xml if live else None, live.forms if live else None, draft.bpmn_xml, draft.forms or {}
    )


def activate(session: Session, draft_id: int, *, change_instance_id: int | None) -> dict:
    """总经理 approved: the draft becomes the next version (run by the change case's script)."""
    draft = locked(session, draft_id)
    if draft.state == DraftState.ACTIVATED:  # the step re-ran (a retry after an error further on)
        return _activated(draft)
    if draft.state != DraftState.PROPOSED or draft.change_instance_id != change_instance_id:
        raise Conflict(f"草稿 {draft_id} 不属于本变更申请，不能生效")
    if draft.process_key == CHANGE_PROCESS:
        _check_change_process_approvals(session, change_instance_id)
    live = deployment.latest_version(session, draft.process_key)
    note = f"流程新增/变更审批 #{change_instance_id} 批准生效"
    if draft.rollback_of:
        note += f"（回滚到版本 {draft.rollback_of}）"
    if live is not None and draft.base_version is not None and live.version != draft.base_version:
        note += f"；草稿基于版本 {draft.base_version}，其间已上线版本 {live.version}"
    case = session.get(Instance, change_instance_id)
    result = deployment.deploy(
        session,
        draft.bpmn_xml,
        forms=draft.forms,
        actor_id=case.initiator_id if case else None,
        note=note,
        source="change",
        change_instance_id=change_instance_id,
        draft_id=draft.id,
    )
    draft.state, draft.activated_version = DraftState.ACTIVATED, result.version.version
    return _activated(draft)


def _check_change_process_approvals(session: Session, change_instance_id: int | None) -> None:
    """The change case approved by a 管理者代表 and a 总经理 since it last went back to the applicant
    (a rejection, 退回 or 撤回 starts the review again: the draft may have changed)."""
    restart = (
        session.scalar(
            select(Event.id)
            .where(
                Event.instance_id == change_instance_id,
                Event.type.in_((history.EventType.RETURNED, history.EventType.WITHDRAWN))
                | ((Event.type == history.EventType.COMPLETED) & (Event.decision == "reject")),
            )
            .order_by(Event.id.desc())
            .limit(1)
        )
        or 0
    )
    approved = set(
        session.scalars(
            select(UserRole.role_code)
            .join(Event, Event.actor_id == UserRole.user_id)
            .where(
                Event.instance_id == change_instance_id,
                Event.id > restart,
                Event.type == history.EventType.COMPLETED,
                Event.decision == "approve",
                UserRole.role_code.in_(CHANGE_PROCESS_APPROVERS),
            )
        )
    )
    missing = [name for code, name in CHANGE_PROCESS_APPROVERS.items() if code not in approved]
    if missing:
        raise Forbidden(
            f"流程新增/变更审批（{CHANGE_PROCESS}）本身的变更须经管理者代表和总经理审批同意，"
            f"本变更申请尚缺：{'、'.join(missing)}，不能生效"
        )


def deploy_direct(session: Session, draft_id: int, *, user: User, note: str | None = None) -> ProcessVersion:
    """An admin puts a draft live without the change procedure; the version records that. Not the change
    procedure itself: that needs its approvals (`CHANGE_PROCESS_APPROVERS`)."""
    if "admin" not in user.role_codes:
        raise Forbidden("只有系统管理员可以直接部署；其他人请“申请变更”走流程新增/变更审批")
    draft = locked(session, draft_id)
    if draft.process_key == CHANGE_PROCESS:
        raise Forbidden(deployment.GOVERNED_REFUSAL)
    if state_of(session, draft) != DraftState.DRAFT:
        raise Conflict("草稿正在变更审批中或已生效，不能直接部署")
    result = deployment.deploy(
        session,
        draft.bpmn_xml,
        forms=draft.forms,
        actor_id=user.id,
        note=note or "系统管理员直接部署（未经变更审批）",
        source="direct",
        draft_id=draft.id,
    )
    if not result.created:
        raise Conflict("草稿与线上版本内容相同，无需部署")
    draft.state, draft.activated_version = DraftState.ACTIVATED, result.version.version
    draft.updated_by, draft.updated_at = user.id, clock.now()
    return result.version


def _activated(draft: ProcessDraft) -> dict:
    return {
        "process_key": draft.process_key,
        "version": draft.activated_version,
        "version_label": f"V{draft.activated_version}",
    }


def locked(session: Session, draft_id: int) -> ProcessDraft:
    draft = (
        session.get(ProcessDraft, draft_id, with_for_update=True, populate_existing=True)
        if fits_32_bits(draft_id)
        else None
    )
    if draft is None:
        raise NotFound(f"草稿不存在：{draft_id}")
    return draft
