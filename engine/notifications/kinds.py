"""The kinds of notification, and what the 通知 list, the settings and a mail's subject call each."""

from __future__ import annotations

KINDS: dict[str, str] = {
    "task": "新待办",
    "reminder": "到期提醒",
    "overdue": "已逾期",
    "escalated": "超时升级",
    "urged": "催办",
    "copied": "抄送",
    "notify": "流程通知",
    "completed": "流程结束",
}
