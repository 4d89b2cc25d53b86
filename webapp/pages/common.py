"""What several pages share: time formatting, paging, the case summary, the history timeline and the
attachments list, labelled for people from the engine's read models (engine/runtime/views.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import request
from flask_babel import gettext
from sqlalchemy.orm import Session

from engine.config import timezone_name
from engine.history import EventType
from engine.runtime import views
from engine.store.db import MAX_INTEGER
from engine.store.models import Instance, InstanceStatus, ProcessVersion, TaskRowState
from webapp.i18n import N_

PAGE_SIZE = 50

STATUS_LABELS = {
    InstanceStatus.RUNNING: N_("进行中"),
    InstanceStatus.COMPLETED: N_("已完成"),
    InstanceStatus.WITHDRAWN: N_("已撤回"),
    InstanceStatus.TERMINATED: N_("已终止"),
    InstanceStatus.ERROR: N_("出错"),
}
TASK_STATE_LABELS = {
    TaskRowState.OPEN: N_("待办理"),
    TaskRowState.COMPLETED: N_("已办理"),
    TaskRowState.CANCELLED: N_("已取消"),
    TaskRowState.WAITING: N_("等待加签人"),
    TaskRowState.PENDING: N_("未轮到"),
}
DECISION_LABELS = {"approve": N_("同意"), "reject": N_("拒绝")}
EVENT_LABELS = {
    EventType.STARTED: N_("发起流程"),
    EventType.CLAIMED: N_("认领任务"),
    EventType.UNCLAIMED: N_("取消认领"),
    EventType.COMPLETED: N_("办理完成"),
    EventType.CANCELLED: N_("任务取消"),
    EventType.TRANSFERRED: N_("转办"),
    EventType.DELEGATED: N_("委派"),
    EventType.DELEGATE_RESOLVED: N_("委派人处理完成"),
    EventType.SIGNER_ADDED: N_("加签"),
    EventType.RETURNED: N_("退回"),
    EventType.WITHDRAWN: N_("撤回"),
    EventType.COPIED: N_("抄送"),
    EventType.URGED: N_("催办"),
    EventType.MIGRATED: N_("迁移版本"),
    EventType.ATTACHED: N_("上传附件"),
    EventType.TIMER_FIRED: N_("定时触发"),
    EventType.CASE_STARTED: N_("发起子流程"),
    EventType.NOTIFIED: N_("发送提醒"),
    EventType.ESCALATED: N_("超时升级"),
    EventType.ERROR: N_("出错"),
    EventType.RETRIED: N_("重试"),
    EventType.FINISHED: N_("流程结束"),
}


def tz() -> ZoneInfo:
    return ZoneInfo(timezone_name())


def fmt_dt(value) -> str:
    """YYYY-MM-DD HH:MM in the organisation's time zone (Asia/Shanghai)."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(tz()).strftime("%Y-%m-%d %H:%M")


def page_arg() -> int:
    """The page number asked for, within what the database can skip to."""
    try:
        return min(max(1, int(request.args.get("page", 1))), MAX_INTEGER // PAGE_SIZE)
    except ValueError:
        return 1


def pager(page: int, total: int | None, shown: int) -> dict:
    """Previous/next links; with a total, also the page count."""
    pages = max(1, -(-total // PAGE_SIZE)) if total is not None else None
    has_next = page < pages if pages is not None else shown == PAGE_SIZE
    return {"page": page, "pages": pages, "has_prev": page > 1, "has_next": has_next}


# ---- case summary: the case data as label/value rows, labels from the version's forms ----


def _walk(components):
    for comp in components or []:
        yield comp
        yield from _walk(comp.get("components"))


def form_fields(version: ProcessVersion) -> dict[str, dict]:
    """key -> {label, options: {value: label} | None, source: users|departments|None}, first form wins."""
    fields: dict[str, dict] = {}
    for form in (version.forms or {}).values():
        for comp in _walk(form.get("components")):
            key = comp.get("key")
            if not key or key in fields:
                continue
            source = (comp.get("properties") or {}).get("options")
            options = {v.get("value"): v.get("label") for v in comp.get("values") or [] if isinstance(v, dict)}
            fields[key] = {
                "label": comp.get("label") or key,
                "options": options or None,
                "source": source,
                "type": comp.get("type"),
            }
    return fields


def summary(session: Session, instance: Instance, version: ProcessVersion) -> list[dict]:
    data = instance.data or {}
    fields = form_fields(version)
    people: set[str] = set()
    for key, value in data.items():
        if (fields.get(key) or {}).get("source") == "users":
            people.update(value if isinstance(value, list) else [value])
    names = views.display_names_by_username(session, people)
    departments = (
        views.department_names(session)
        if any((fields.get(k) or {}).get("source") == "departments" for k in data)
        else {}
    )
    rows = []
    for key, value in data.items():
        field = fields.get(key)
        rows.append(
            {
                "key": key,
                "label": field["label"] if field else key,
                "known": field is not None,
                "value": _show(value, field, names, departments),
            }
        )
    rows.sort(key=lambda r: not r["known"])  # the form's fields first, technical values last
    return rows


def _show(value, field, names, departments) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return gettext("是") if value else gettext("否")
    if isinstance(value, list):
        return "、".join(_show(v, field, names, departments) for v in value) or "—"
    if isinstance(value, dict):
        return "；".join(f"{k}: {_show(v, None, names, departments)}" for k, v in value.items())
    if field:
        if field["source"] == "users":
            return names.get(value, str(value))
        if field["source"] == "departments":
            return departments.get(value, str(value))
        if field["options"] and value in field["options"]:
            return field["options"][value]
    return str(value)


# ---- history timeline and attachments ----


def attachments(case: dict) -> list[dict]:
    """The attachments panel's rows, from the case's read model (engine/runtime/views.case_view)."""
    return [
        {
            "id": a["id"],
            "filename": a["filename"],
            "size": a["size"],
            "task_id": a["task_id"],
            "uploaded_by": a["uploaded_by_name"] or "",
            "uploaded_at": a["uploaded_at"],
            "url": f"/api/v1/attachments/{a['id']}",
        }
        for a in case["attachments"]
    ]


# Event data keys that name people (usernames), shown by name in the timeline.
PEOPLE_KEYS = ("to", "to_user", "user", "users")


def timeline(session: Session, case: dict, files: list[dict]) -> list[dict]:
    """The case's events, oldest first, with the people an action named and the files of each task."""
    events, steps = case["events"], case["step_names"]
    targets: set[str] = set()
    for e in events:
        data = e.get("data") or {}
        for key in PEOPLE_KEYS:
            value = data.get(key)
            targets.update(value if isinstance(value, list) else [value])
    names = views.display_names_by_username(session, targets)
    by_task: dict[str, list[dict]] = {}
    for f in files:
        if f["task_id"]:
            by_task.setdefault(f["task_id"], []).append(f)
    rows = []
    for e in events:
        if e["type"] == "attachment_added":
            continue  # shown with the task's completion and in the attachments panel
        data = e.get("data") or {}
        named = []
        for key in PEOPLE_KEYS:
            value = data.get(key)
            if value:
                named += [names.get(v, str(v)) for v in (value if isinstance(value, list) else [value])]
        if e["type"] == "returned" and data.get("to_name"):  # where the case went back to, and to whom
            named = [f"{data['to_name']}（{'、'.join(named)}）" if named else data["to_name"]]
        rows.append(
            {
                **e,
                "label": EVENT_LABELS.get(e["type"], e["type"]),
                "targets": named,
                "element_name": steps.get(e["element_id"]),
                "files": by_task.get(e["task_id"], []) if e["type"] == "task_completed" else [],
            }
        )
    return rows
