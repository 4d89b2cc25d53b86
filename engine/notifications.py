"""Notifications: in-app rows (the 通知 list and its unread badge) and e-mail through an outbox.

`send` runs inside the caller's transaction, so a notice exists exactly when the engine step that
caused it committed. E-mail is written to `mail_outbox` there and sent later by `deliver_outbox`
(the scheduler's tick) outside any transaction, with retry and exponential back-off, so a mail
server that is down loses nothing. Rows are claimed with a lease (`locked_by`, `locked_until`;
`FOR UPDATE SKIP LOCKED` on PostgreSQL), so several deliverers send each mail once and a process
that dies mid-send leaves a lease that expires. Each person chooses per kind which channels they get.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from engine import clock, config
from engine.errors import Conflict, InvalidData, NotFound
from engine.store import leases
from engine.store.db import Database
from engine.store.models import Instance, MailOutbox, Notification, NotificationOptOut, Task, TaskCandidate, User

log = logging.getLogger(__name__)

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
CHANNELS = ("in_app", "email")
CHANNEL_LABELS = {"in_app": "站内通知", "email": "邮件"}

SMTP_TIMEOUT = 10  # seconds, on connect and on every exchange with the server
# A batch stops at the first broken connection and hands its rest back after half the lease.
LEASE = timedelta(minutes=10)
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=48)
OUTBOX_STATUSES = ("pending", "sent", "failed")


# ---- sending (inside the engine step's transaction) --------------------------------------------

def send(session: Session, *, user_ids, kind: str, title: str, body: str = "", instance_id: int | None = None,
         task_id: str | None = None, link: str | None = None) -> int:
    """Notify each distinct active user on the channels they allow for `kind`; rows made."""
    if kind not in KINDS:
        raise ValueError(f"未知的通知类型：{kind}")
    ids = {int(uid) for uid in user_ids or () if uid is not None}
    if not ids:
        return 0
    # One query of columns, not User rows (those load department and roles): this runs on every new task.
    people, off = {}, set()  # each active person's address; the channels they turned off for this kind
    for uid, email, channel in session.execute(
            select(User.id, User.email, NotificationOptOut.channel)
            .outerjoin(NotificationOptOut, (NotificationOptOut.user_id == User.id) & (NotificationOptOut.kind == kind))
            .where(User.id.in_(ids), User.active).order_by(User.id)):
        people[uid] = email
        if channel:
            off.add((uid, channel))
    if not people:
        return 0
    now = clock.now()
    title = _clip(title, 255)
    rows: list = []
    mail = None
    for uid, email in people.items():
        if (uid, "in_app") not in off:
            rows.append(Notification(user_id=uid, kind=kind, title=title, body=body or None, link=link,
                                     instance_id=instance_id, task_id=task_id, created_at=now))
        if (uid, "email") not in off and (email or "").strip() and config.smtp_host():
            if mail is None:  # the same text for everyone notified by this call
                mail = _compose(session, kind, title, body, instance_id, link, now)
            rows.append(MailOutbox(to_address=email.strip(), user_id=uid, kind=kind,
                                   subject=mail[0], body=mail[1], status="pending", attempts=0,
                                   next_attempt_at=now, created_at=now))
    session.add_all(rows)
    return len(rows)


def _clip(text: str, size: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= size else text[:size - 1] + "…"


def _compose(session: Session, kind: str, title: str, body: str, instance_id: int | None, link: str | None,
             now: datetime) -> tuple[str, str]:
    """(subject, plain-text body): the subject names the case, so a mail client threads a case's mails."""
    case = session.get(Instance, instance_id) if instance_id is not None else None
    subject = _clip(f"【{KINDS[kind]}】{case.title if case is not None else title}", 255)
    base = config.base_url()
    lines = [title, ""]
    # Callers often say which case in the body; the line below says it once, with its number.
    if body and not (case is not None and body.strip() == f"案件：{case.title}"):
        lines += [body, ""]
    if case is not None:
        lines.append(f"案件：{case.title}（编号 {case.id}）")
    lines.append(f"时间：{clock.local(now):%Y-%m-%d %H:%M}")
    if link:
        lines.append(f"打开：{base}{link}")
    lines += ["", "——", "流程管理系统自动发送，请勿直接回复。",
              f"不想收到此类邮件，可在通知设置中关闭：{base}/settings/notifications"]
    return subject, "\n".join(lines) + "\n"


# ---- what the engine notifies about (one call from each place it happens) ----------------------

def task_link(task_id: str) -> str:
    return f"/tasks/{task_id}"


def case_link(instance_id: int) -> str:
    return f"/cases/{instance_id}"


def tasks_created(session: Session, instance: Instance, rows, *, actor_id: int | None = None) -> int:
    """新待办 for rows that just became someone's work: each candidate of each open row, once per row
    (a row waiting its turn is not announced). Not to the person whose action made the row: they are
    looking at it."""
    made = 0
    for row in rows:
        if row.state != "open":
            continue
        people = holders(session, row)
        made += send(session, user_ids=[p for p in people if p != actor_id], kind="task",
                     title=f"{row.name}：{instance.title}", instance_id=instance.id, task_id=row.id,
                     link=task_link(row.id))
    return made


def holders(session: Session, row: Task) -> list[int]:
    """Who has a task row: its assignee, or else each candidate of the group task."""
    if row.assignee_id is not None:
        return [row.assignee_id]
    return list(session.scalars(select(TaskCandidate.user_id).where(TaskCandidate.task_id == row.id)
                                .order_by(TaskCandidate.user_id)))


def task_opened(session: Session, row: Task, *, actor_id: int | None = None) -> int:
    """新待办 for a row that was waiting and is now someone's turn (依次审批, a signer after me)."""
    return tasks_created(session, session.get(Instance, row.instance_id), [row], actor_id=actor_id)


def task_handed(session: Session, task: Task, *, to: User, by: User, how: str, comment: str | None = None) -> int:
    """转办 / 委派: the task is now `to`'s to work. `how` is said in the title (转办, 委派)."""
    instance = session.get(Instance, task.instance_id)
    return send(session, user_ids=[to.id], kind="task", title=f"{by.display_name} {how}给你：{task.name}",
                body=comment or f"案件：{instance.title}", instance_id=instance.id, task_id=task.id,
                link=task_link(task.id))


def urged(session: Session, instance: Instance, rows, user_ids, *, by: User, comment: str | None = None) -> int:
    """催办: each person urged gets a link to their task on the case, or to the case if they have several."""
    theirs: dict[int, list[Task]] = {}
    unclaimed = {row.id: row for row in rows if row.assignee_id is None}
    for row in rows:
        if row.assignee_id is not None:
            theirs.setdefault(row.assignee_id, []).append(row)
    if unclaimed:
        for task_id, uid in session.execute(select(TaskCandidate.task_id, TaskCandidate.user_id)
                                            .where(TaskCandidate.task_id.in_(list(unclaimed)))):
            theirs.setdefault(uid, []).append(unclaimed[task_id])
    made = 0
    for uid in user_ids:
        mine = theirs.get(uid, [])
        one = mine[0] if len(mine) == 1 else None
        made += send(session, user_ids=[uid], kind="urged",
                     title=f"{by.display_name} 催办：{one.name if one else instance.title}",
                     body=comment or "", instance_id=instance.id, task_id=one.id if one else None,
                     link=task_link(one.id) if one else case_link(instance.id))
    return made


def copied(session: Session, instance: Instance, people, *, by: User, comment: str | None = None) -> int:
    return send(session, user_ids=[p.id for p in people], kind="copied",
                title=f"{by.display_name} 抄送给你：{instance.title}", body=comment or "",
                instance_id=instance.id, link=case_link(instance.id))


# What a diagram's `notify` payload may call its kind, and what we file it under.
MESSAGE_KINDS = {"reminder": "reminder", "overdue": "overdue", "escalation": "escalated",
                 "escalated": "escalated", "notify": "notify"}


def message_kind(value) -> str:
    return MESSAGE_KINDS.get(str(value or "reminder").strip().lower(), "notify")


def case_message(session: Session, instance: Instance, user_ids, payload: dict) -> int:
    """A diagram's `notify` message: a reminder, an escalation or a plain notice about the case."""
    kind = message_kind(payload.get("kind"))
    text = str(payload.get("text") or "").strip()
    return send(session, user_ids=user_ids, kind=kind, title=text or f"{KINDS[kind]}：{instance.title}",
                body=f"案件：{instance.title}" if text else "", instance_id=instance.id,
                link=case_link(instance.id))


def case_completed(session: Session, instance: Instance) -> int:
    return send(session, user_ids=[instance.initiator_id], kind="completed", title=f"已办结：{instance.title}",
                instance_id=instance.id, link=case_link(instance.id))


# ---- the in-app list ---------------------------------------------------------------------------

def unread_count(session: Session, user_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def list_for(session: Session, user_id: int, *, unread: bool = False, limit: int = 50,
             offset: int = 0) -> list[Notification]:
    """A person's notifications, newest first."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit).offset(offset)))


def mark_read(session: Session, user_id: int, *, ids=None, all: bool = False) -> int:
    """Mark some (or all) of a person's unread notifications read; how many changed. Others' ids are ignored."""
    query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if not all:
        try:
            wanted = sorted({int(i) for i in ids or ()})
        except (TypeError, ValueError):
            raise InvalidData({"ids": ["应为通知编号（整数）的列表"]})
        if not wanted:
            raise InvalidData({"ids": ["请指定要标为已读的通知，或用 all 全部标为已读"]})
        query = query.where(Notification.id.in_(wanted))
    result = session.execute(query.values(read_at=clock.now()).execution_options(synchronize_session=False))
    return result.rowcount


def open_notification(session: Session, user_id: int, notification_id: int) -> Notification:
    """Following a notification marks it read; the caller goes on to its link."""
    # The write first: on SQLite a transaction that read before writing may find the lock taken.
    session.execute(update(Notification).where(
        Notification.id == notification_id, Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=clock.now()).execution_options(synchronize_session=False))
    row = session.get(Notification, notification_id, populate_existing=True)
    if row is None or row.user_id != user_id:
        raise NotFound(f"通知不存在：{notification_id}")
    return row


def present(row: Notification) -> dict:
    return {"id": row.id, "kind": row.kind, "kind_label": KINDS.get(row.kind, row.kind), "title": row.title,
            "body": row.body, "link": row.link, "instance_id": row.instance_id, "task_id": row.task_id,
            "created_at": row.created_at, "read_at": row.read_at, "read": row.read_at is not None}


# ---- each person's channels --------------------------------------------------------------------

def settings(session: Session, user: User) -> dict:
    """The kinds × channels matrix (on unless turned off), and whether e-mail can reach this person."""
    off = set(session.execute(select(NotificationOptOut.kind, NotificationOptOut.channel)
                              .where(NotificationOptOut.user_id == user.id)).all())
    return {
        "kinds": [{"kind": kind, "label": label, **{ch: (kind, ch) not in off for ch in CHANNELS}}
                  for kind, label in KINDS.items()],
        "channels": [{"channel": ch, "label": CHANNEL_LABELS[ch]} for ch in CHANNELS],
        "email_configured": config.smtp_host() is not None,
        "email": user.email or None,
    }


def save_settings(session: Session, user: User, kinds) -> dict:
    """`kinds`: [{kind, in_app?, email?}]; a channel left out keeps its setting."""
    if not isinstance(kinds, list):
        raise InvalidData({"kinds": ["应为列表：[{kind, in_app, email}]"]})
    errors: list[str] = []
    changes: dict[tuple[str, str], bool] = {}
    for item in kinds:
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind not in KINDS:
            errors.append(f"未知的通知类型：{kind}")
            continue
        for key, value in item.items():
            if key in ("kind", "label"):
                continue
            if key not in CHANNELS:
                errors.append(f"未知的通知渠道：{key}（可选 in_app、email）")
            elif not isinstance(value, bool):
                errors.append(f"{KINDS[kind]}的{CHANNEL_LABELS[key]}应为 true 或 false")
            else:
                changes[(kind, key)] = value
    if errors:
        raise InvalidData({"kinds": errors})
    for (kind, channel), on in changes.items():
        session.execute(delete(NotificationOptOut).where(
            NotificationOptOut.user_id == user.id, NotificationOptOut.kind == kind,
            NotificationOptOut.channel == channel))
        if not on:
            session.add(NotificationOptOut(user_id=user.id, kind=kind, channel=channel))
    session.flush()
    return settings(session, user)


# ---- the outbox, for operations ----------------------------------------------------------------

def outbox(session: Session, *, status: str | None = None, limit: int = 100, offset: int = 0) -> list[MailOutbox]:
    if status is not None and status not in OUTBOX_STATUSES:
        raise InvalidData({"status": [f"只能是 {'、'.join(OUTBOX_STATUSES)}：{status}"]})
    query = select(MailOutbox)
    if status is not None:
        query = query.where(MailOutbox.status == status)
    return list(session.scalars(query.order_by(MailOutbox.id.desc()).limit(limit).offset(offset)))


def outbox_counts(session: Session) -> dict[str, int]:
    counts = dict(session.execute(select(MailOutbox.status, func.count()).group_by(MailOutbox.status)).all())
    return {status: counts.get(status, 0) for status in OUTBOX_STATUSES}


def present_mail(row: MailOutbox) -> dict:
    return {"id": row.id, "to_address": row.to_address, "user_id": row.user_id, "kind": row.kind,
            "subject": row.subject, "status": row.status, "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at, "locked_by": row.locked_by, "locked_until": row.locked_until,
            "last_error": row.last_error, "created_at": row.created_at, "sent_at": row.sent_at}


def _requeue(session: Session, row: MailOutbox) -> None:
    # The person's current address: a failure is often a wrong address someone has since corrected.
    person = session.get(User, row.user_id) if row.user_id is not None else None
    if person is not None and (person.email or "").strip():
        row.to_address = person.email.strip()
    row.status, row.attempts, row.failing_since = "pending", 0, None
    row.next_attempt_at, row.locked_by, row.locked_until = clock.now(), None, None


def retry(session: Session, mail_id: int) -> MailOutbox:
    """Put a failed mail back in the queue, to be sent at the next tick."""
    row = session.get(MailOutbox, mail_id, with_for_update=True)
    if row is None:
        raise NotFound(f"邮件不存在：{mail_id}")
    if row.status != "failed":
        raise Conflict(f"只有发送失败的邮件可以重试（该邮件状态：{row.status}）")
    _requeue(session, row)
    session.flush()
    return row


def retry_failed(session: Session) -> int:
    rows = list(session.scalars(select(MailOutbox).where(MailOutbox.status == "failed").with_for_update()))
    for row in rows:
        _requeue(session, row)
    session.flush()
    return len(rows)


# ---- delivering (the scheduler's tick) ----------------------------------------------------------

class _Permanent(Exception):
    """The server refused the recipient for good (5xx): retrying cannot help."""


class _Broken(Exception):
    """The connection to the server failed: every mail left in the batch fails with it."""


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 1 min, 2, 4 … at most 1 h."""
    return min(FIRST_RETRY * (2 ** min(max(attempts - 1, 0), 16)), MAX_RETRY)  # capped exponent: no overflow


def deliver_outbox(db: Database, *, limit: int = 100, worker: str | None = None) -> int:
    """Send the mails that are due; how many went. Safe to run in any number of processes at once."""
    smtp_config = config.smtp_settings()  # a bad setting is refused here, before any row is leased
    if smtp_config is None:  # e-mail is off: queued mails wait until it is configured
        return 0
    worker = worker or leases.worker_id()
    batch = _claim(db, limit, worker)
    started = time.monotonic()
    sent = 0
    connection = None
    broken: str | None = None
    try:
        for row in batch:
            if time.monotonic() - started > LEASE.total_seconds() / 2:
                _update_leased(db, row, worker)  # a crawling server: hand the rest back before our lease ends
                continue
            if broken is None:
                try:
                    message = _message(row)
                except ValueError as exc:  # e.g. a line break in the stored address: no server will take it
                    _record_failure(db, row, worker, f"邮件无法生成：{exc}", permanent=True)
                    continue
                try:
                    if connection is None:
                        connection = _connect(smtp_config)
                    connection.send_message(message)
                except _Permanent as exc:
                    _record_failure(db, row, worker, str(exc), permanent=True)
                    continue
                except _Broken as exc:
                    broken = str(exc)
                except smtplib.SMTPResponseException as exc:  # 4xx/5xx for this message: the next may pass
                    _record_failure(db, row, worker, _smtp_text(exc))
                    continue
                except (smtplib.SMTPException, OSError) as exc:  # the connection went: stop this batch
                    broken = _error_text(exc, smtp_config)
                    connection = _close(connection)
                else:
                    _record_sent(db, row, worker)
                    sent += 1
                    continue
            _record_failure(db, row, worker, broken)
    finally:
        _close(connection)
    return sent


def _claim(db: Database, limit: int, worker: str) -> list[MailOutbox]:
    """Lease up to `limit` due rows in one short transaction."""
    with db.session(write=True) as session:
        ids = [row.id for row in leases.claim(session, MailOutbox, MailOutbox.next_attempt_at, now=clock.now(),
                                              worker=worker, batch=limit, lease=LEASE,
                                              where=(MailOutbox.status == "pending",))]
        return list(session.scalars(select(MailOutbox).where(MailOutbox.id.in_(ids))
                                    .order_by(MailOutbox.next_attempt_at, MailOutbox.id))) if ids else []


def _update_leased(db: Database, row: MailOutbox, worker: str, **values) -> None:
    # Only while the lease is still ours: a deliverer that overran its lease must not clobber the next one.
    with db.session(write=True) as session:
        session.execute(update(MailOutbox).where(MailOutbox.id == row.id, MailOutbox.locked_by == worker)
                        .values(locked_by=None, locked_until=None, **values)
                        .execution_options(synchronize_session=False))


def _record_sent(db: Database, row: MailOutbox, worker: str) -> None:
    _update_leased(db, row, worker, status="sent", sent_at=clock.now(), attempts=row.attempts + 1)


def _record_failure(db: Database, row: MailOutbox, worker: str, error: str, *, permanent: bool = False) -> None:
    now = clock.now()
    attempts = row.attempts + 1
    since = row.failing_since or now
    give_up = permanent or now - since >= GIVE_UP_AFTER
    log.warning("mail %s to %s failed (attempt %d): %s", row.id, row.to_address, attempts, error)
    _update_leased(db, row, worker, attempts=attempts, last_error=_clip_error(error), failing_since=since,
                   status="failed" if give_up else "pending", next_attempt_at=now + backoff(attempts))


def _clip_error(text: str) -> str:
    return text if len(text) <= 2000 else text[:2000] + "…"


def _message(row: MailOutbox) -> EmailMessage:
    message = EmailMessage()  # UTF-8: headers RFC 2047-encoded, the body base64 or 8bit as needed
    message["Subject"] = row.subject
    message["From"] = config.mail_from()
    message["To"] = row.to_address
    message["Date"] = format_datetime(clock.now())
    # Stable per outbox row: a receiving system can drop the copy a lost "sent" record would cause.
    domain = parseaddr(config.mail_from())[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<bpm-outbox-{row.id}.{row.created_at:%Y%m%d%H%M%S}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.body, charset="utf-8")
    return message


def _connect(smtp_config: dict) -> _Connection:
    host, port, security = smtp_config["host"], smtp_config["port"], smtp_config["security"]
    connection = None
    try:
        if security == "ssl":
            connection = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT, context=ssl.create_default_context())
        else:
            connection = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
            if security == "starttls":
                connection.starttls(context=ssl.create_default_context())
        if smtp_config["user"]:
            connection.login(smtp_config["user"], smtp_config["password"] or "")
    except (smtplib.SMTPException, OSError) as exc:
        if connection is not None:
            connection.close()
        if isinstance(exc, smtplib.SMTPResponseException):
            raise _Broken(f"邮件服务器 {host}:{port} 拒绝连接或登录：{_smtp_text(exc)}") from exc
        raise _Broken(_error_text(exc, smtp_config)) from exc
    return _Connection(connection)


class _Connection:
    """An SMTP connection whose recipient refusals say whether they are permanent."""

    def __init__(self, smtp: smtplib.SMTP):
        self.smtp = smtp

    def send_message(self, message: EmailMessage) -> None:
        try:
            refused = self.smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            reason = f"收件人被拒收：{code} {_decode(text)}"
            if 500 <= code < 600:
                raise _Permanent(reason) from exc
            raise smtplib.SMTPResponseException(code, reason) from exc
        if refused:  # one recipient per message: not reached, but never silently drop a refusal
            raise _Permanent(f"收件人被拒收：{refused}")

    def quit(self) -> None:
        self.smtp.quit()

    def close(self) -> None:
        self.smtp.close()


def _close(connection) -> None:
    if connection is not None:
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()
    return None


def _decode(text) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _smtp_text(exc: smtplib.SMTPResponseException) -> str:
    text = _decode(exc.smtp_error)
    return text if text.startswith("收件人被拒收") else f"{exc.smtp_code} {text}"


def _error_text(exc: BaseException, smtp_config: dict) -> str:
    return f"无法连接邮件服务器 {smtp_config['host']}:{smtp_config['port']}：{type(exc).__name__}: {exc}"
