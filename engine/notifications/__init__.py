"""Notifications: in-app rows (the 通知 list and its unread badge) and e-mail through an outbox.

`send` runs inside the caller's transaction, so a notice exists exactly when the engine step that
caused it committed. E-mail is written to `mail_outbox` there and sent later by `deliver_outbox`
(the scheduler's tick) outside any transaction, with retry and exponential back-off, so a mail
server that is down loses nothing. Rows are claimed with a lease (`locked_by`, `locked_until`;
`FOR UPDATE SKIP LOCKED` on PostgreSQL), so several deliverers send each mail once and a process
that dies mid-send leaves a lease that expires. Each person chooses per kind which channels they get.

One module per concern: `kinds` (what a notice can be), `fanout` (`send`: who is told, on which
channel), `events` (what the engine notifies about, one call from each place it happens),
`channels` (the interface, and one module per channel: `in_app`, `email`), `smtp` (the mail
server's client), `inapp_list` (my list, unread count, marking read), `settings` (each person's
channels per kind), `present` (the API's views). How to add a channel: docs/notifications.md.
The engine's calls are named here; the pages and the API import the module they use.
"""

from engine.notifications.channels.email import deliver_outbox
from engine.notifications.events import (
    case_completed,
    case_link,
    case_message,
    copied,
    holders,
    message_kind,
    task_handed,
    task_link,
    task_opened,
    tasks_created,
    urged,
)
from engine.notifications.fanout import send
from engine.notifications.kinds import KINDS

__all__ = [
    "KINDS",
    "case_completed",
    "case_link",
    "case_message",
    "copied",
    "deliver_outbox",
    "holders",
    "message_kind",
    "send",
    "task_handed",
    "task_link",
    "task_opened",
    "tasks_created",
    "urged",
]
