"""The kinds of notification, and what the 通知 list, the settings and a mail's subject call each."""

from __future__ import annotations

from enum import StrEnum


class NoticeKind(StrEnum):
    TASK = "task"  # a task for me (new, or handed to me)
    REMINDER = "reminder"  # a deadline comes near
    OVERDUE = "overdue"
    ESCALATED = "escalated"  # an overdue task escalated to me
    URGED = "urged"  # 催办
    COPIED = "copied"  # 抄送
    NOTIFY = "notify"  # a diagram's `notify` message
    COMPLETED = "completed"  # a case I started ended


KINDS: dict[str, str] = {
    NoticeKind.TASK: "新待办",
    NoticeKind.REMINDER: "到期提醒",
    NoticeKind.OVERDUE: "已逾期",
    NoticeKind.ESCALATED: "超时升级",
    NoticeKind.URGED: "催办",
    NoticeKind.COPIED: "抄送",
    NoticeKind.NOTIFY: "流程通知",
    NoticeKind.COMPLETED: "流程结束",
}
