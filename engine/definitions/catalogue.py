"""The 流程清单 (list of procedures, 000 篇2 第十五条) and each procedure's version history, read from
the engine's own rows; the Excel export 企管部 files."""

from __future__ import annotations

import io
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.definitions import drafts
from engine.store.models import (
    DraftState,
    Instance,
    InstanceStatus,
    ProcessDefinition,
    ProcessDraft,
    ProcessVersion,
    Role,
    User,
    UserRole,
)

SOURCE_LABELS = {"library": "流程库导入", "api": "接口部署", "direct": "管理员直接部署", "change": "变更审批生效"}


def display_names(session: Session, ids: Iterable[int | None]) -> dict[int | None, str]:
    """{user id: display name}; an empty id (nobody) has no entry, so `.get` gives None for it."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())


def versions(session: Session, process_key: str) -> list[dict]:
    """Every version, newest first: who put it live, when, how, through which case, cases still on it."""
    rows = list(
        session.scalars(
            select(ProcessVersion)
            .where(ProcessVersion.process_key == process_key)
            .order_by(ProcessVersion.version.desc())
        )
    )
    running = dict(
        session.execute(
            select(Instance.version_id, func.count())
            .where(Instance.process_key == process_key, Instance.status == InstanceStatus.RUNNING)
            .group_by(Instance.version_id)
        ).all()
    )
    names = display_names(session, [v.deployed_by for v in rows])
    live = rows[0].version if rows else None
    return [
        {
            "version": v.version,
            "name": v.name,
            "deployed_at": v.deployed_at,
            "deployed_by": names.get(v.deployed_by),
            "source": v.source,
            "source_label": SOURCE_LABELS.get(v.source or "", "部署"),
            "change_instance_id": v.change_instance_id,
            "note": v.note,
            "live": v.version == live,
            "running": running.get(v.id, 0),
        }
        for v in rows
    ]


def catalogue(session: Session) -> list[dict]:
    """One row per procedure: owner role, 流程经理 (who holds it), live version, status, last change."""
    definitions = list(
        session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.category, ProcessDefinition.key))
    )
    live = {
        v.process_key: v
        for v in session.scalars(
            select(ProcessVersion).join(
                ProcessDefinition,
                (ProcessDefinition.key == ProcessVersion.process_key)
                & (ProcessDefinition.latest_version == ProcessVersion.version),
            )
        )
    }
    role_names = dict(session.execute(select(Role.code, Role.name)).all())
    holders: dict[str, list[str]] = {}
    for code, name in session.execute(
        select(UserRole.role_code, User.display_name)
        .join(User, User.id == UserRole.user_id)
        .where(User.active)
        .order_by(User.id)
    ):
        holders.setdefault(code, []).append(name)
    open_drafts: dict[str, list[ProcessDraft]] = {}
    for draft in session.scalars(
        select(ProcessDraft).where(ProcessDraft.state.in_((DraftState.DRAFT, DraftState.PROPOSED)))
    ):
        open_drafts.setdefault(draft.process_key, []).append(draft)
    deployers = display_names(session, [v.deployed_by for v in live.values()])
    rows = []
    for d in definitions:
        version = live.get(d.key)
        if version is None:
            continue
        states = {draft.change_instance_id: drafts.state_of(session, draft) for draft in open_drafts.get(d.key, [])}
        proposal = next((case for case, state in states.items() if state == DraftState.PROPOSED), None)
        rows.append(
            {
                "key": d.key,
                "name": d.name,
                "category": d.category,
                "owner_role": d.owner_role,
                "owner_role_name": role_names.get(d.owner_role or "", d.owner_role),
                "managers": holders.get(d.owner_role or "", []),
                "version": version.version,
                "version_label": f"V{version.version}",
                "status": "变更审批中" if proposal is not None else ("有草稿" if states else "有效"),
                "proposal_instance_id": proposal,
                "changed_at": version.deployed_at,
                "changed_by": deployers.get(version.deployed_by),
                "change_source": SOURCE_LABELS.get(version.source or "", "部署"),
                "change_instance_id": version.change_instance_id,
            }
        )
    return rows


COLUMNS = [
    ("流程编号", "key", 22),
    ("流程名称", "name", 28),
    ("类别", "category", 12),
    ("流程所有者（角色）", "owner_role_name", 18),
    ("流程经理", "managers", 22),
    ("版本", "version_label", 8),
    ("状态", "status", 12),
    ("最近变更时间", "changed_at", 18),
    ("变更人", "changed_by", 12),
    ("变更方式", "change_source", 14),
    ("变更审批案件", "change_instance_id", 14),
]


def to_xlsx(rows: list[dict]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "流程清单"
    sheet.append([title for title, _, _ in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
    for row in rows:
        values = []
        for _, key, _ in COLUMNS:
            value = row.get(key)
            if key == "managers":
                value = "、".join(value or [])
            elif key == "changed_at" and value is not None:
                value = clock.local(value).strftime("%Y-%m-%d %H:%M")
            elif key == "change_instance_id" and value is not None:
                value = f"#{value}"
            values.append(value)
        sheet.append(values)
    for index, (_, _, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
