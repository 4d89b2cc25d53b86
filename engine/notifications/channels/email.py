"""邮件: an outbox row per person, written in the engine step's transaction and sent later by
`deliver_outbox` (the scheduler's tick) outside any transaction, with retry and exponential back-off.
Rows are claimed with a lease, so several deliverers send each mail once. The text of a mail is
`templates/email/subject.txt` and `body.txt`, the same for every kind. Also the outbox for operations:
the list, its counts, and putting failed mails back in the queue."""

from __future__ import annotations

import logging
import smtplib
import time
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path

import jinja2
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine import clock, config
from engine.errors import Conflict, InvalidData, NotFound
from engine.notifications import smtp
from engine.notifications.channels import Channel, Notice, Recipient, clip
from engine.notifications.kinds import KINDS
from engine.store import leases
from engine.store.db import Database
from engine.store.models import Instance, MailOutbox, MailStatus, User

log = logging.getLogger(__name__)

# A batch stops at the first broken connection and hands its rest back after half the lease.
LEASE = timedelta(minutes=10)
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=48)
OUTBOX_STATUSES = tuple(MailStatus)

# Plain text: nothing is escaped; a name the templates do not get is an error, not an empty string.
# The templates ship with the code: read once, not checked for changes on every mail.
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent.parent / "templates"),
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


def configured() -> bool:
    """Whether the server sends e-mail at all (BPM_SMTP_HOST); queued mails wait until it does."""
    return config.smtp_host() is not None


class Email(Channel):
    name = "email"
    label = "邮件"

    def reaches(self, person: Recipient) -> bool:
        return bool((person.email or "").strip()) and configured()

    def records(self, session: Session, notice: Notice, people: list[Recipient]) -> list[object]:
        subject, body = compose(session, notice)  # the same text for everyone notified by this call
        return [
            MailOutbox(
                to_address=(person.email or "").strip(),
                user_id=person.user_id,
                kind=notice.kind,
                subject=subject,
                body=body,
                status=MailStatus.PENDING,
                attempts=0,
                next_attempt_at=notice.at,
                created_at=notice.at,
            )
            for person in people
        ]


CHANNEL: Channel = Email()


def compose(session: Session, notice: Notice) -> tuple[str, str]:
    """(subject, plain-text body): the subject names the case, so a mail client threads a case's mails."""
    case = session.get(Instance, notice.instance_id) if notice.instance_id is not None else None
    # Callers often say which case in the body; the body's case line says it once, with its number.
    says_the_case = case is not None and notice.body.strip() == f"案件：{case.title}"
    context = {
        "kind_label": KINDS[notice.kind],
        "title": notice.title,
        "case": case,
        "body": "" if says_the_case else notice.body,
        "link": notice.link,
        "local_time": clock.local(notice.at),
        "base_url": config.base_url(),
    }
    subject = clip(_templates.get_template("email/subject.txt").render(context), 255)
    return subject, _templates.get_template("email/body.txt").render(context)


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


def _requeue(session: Session, row: MailOutbox) -> None:
    # The person's current address: a failure is often a wrong address someone has since corrected.
    person = session.get(User, row.user_id) if row.user_id is not None else None
    address = (person.email or "").strip() if person is not None else ""
    if address:
        row.to_address = address
    row.status, row.attempts, row.failing_since = MailStatus.PENDING, 0, None
    row.next_attempt_at, row.locked_by, row.locked_until = clock.now(), None, None


def retry(session: Session, mail_id: int) -> MailOutbox:
    """Put a failed mail back in the queue, to be sent at the next tick."""
    row = session.get(MailOutbox, mail_id, with_for_update=True)
    if row is None:
        raise NotFound(f"邮件不存在：{mail_id}")
    if row.status != MailStatus.FAILED:
        raise Conflict(f"只有发送失败的邮件可以重试（该邮件状态：{row.status}）")
    _requeue(session, row)
    session.flush()
    return row


def retry_failed(session: Session) -> int:
    rows = list(session.scalars(select(MailOutbox).where(MailOutbox.status == MailStatus.FAILED).with_for_update()))
    for row in rows:
        _requeue(session, row)
    session.flush()
    return len(rows)


# ---- delivering (the scheduler's tick) ----------------------------------------------------------


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
    connection: smtp.Connection | None = None
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
                        connection = smtp.connect(smtp_config)
                    connection.send_message(message)
                except smtp.Permanent as exc:
                    _record_failure(db, row, worker, str(exc), permanent=True)
                    continue
                except smtp.Broken as exc:
                    broken = str(exc)
                except smtplib.SMTPResponseException as exc:  # 4xx/5xx for this message: the next may pass
                    _record_failure(db, row, worker, smtp.response_text(exc))
                    continue
                except (smtplib.SMTPException, OSError) as exc:  # the connection went: stop this batch
                    broken = smtp.error_text(exc, smtp_config)
                    smtp.close(connection)
                    connection = None
                else:
                    _record_sent(db, row, worker)
                    sent += 1
                    continue
            _record_failure(db, row, worker, broken)
    finally:
        smtp.close(connection)
    return sent


def _claim(db: Database, limit: int, worker: str) -> list[MailOutbox]:
    """Lease up to `limit` due rows in one short transaction."""
    with db.session(write=True) as session:
        ids = [
            row.id
            for row in leases.claim(
                session,
                MailOutbox,
                MailOutbox.next_attempt_at,
                now=clock.now(),
                worker=worker,
                batch=limit,
                lease=LEASE,
                where=(MailOutbox.status == MailStatus.PENDING,),
            )
        ]
        return (
            list(
                session.scalars(
                    select(MailOutbox).where(MailOutbox.id.in_(ids)).order_by(MailOutbox.next_attempt_at, MailOutbox.id)
                )
            )
            if ids
            else []
        )


def _update_leased(db: Database, row: MailOutbox, worker: str, **values) -> None:
    # Only while the lease is still ours: a deliverer that overran its lease must not clobber the next one.
    with db.session(write=True) as session:
        session.execute(
            update(MailOutbox)
            .where(MailOutbox.id == row.id, MailOutbox.locked_by == worker)
            .values(locked_by=None, locked_until=None, **values)
            .execution_options(synchronize_session=False)
        )


def _record_sent(db: Database, row: MailOutbox, worker: str) -> None:
    _update_leased(db, row, worker, status=MailStatus.SENT, sent_at=clock.now(), attempts=row.attempts + 1)


def _record_failure(db: Database, row: MailOutbox, worker: str, error: str, *, permanent: bool = False) -> None:
    now = clock.now()
    attempts = row.attempts + 1
    since = row.failing_since or now
    give_up = permanent or now - since >= GIVE_UP_AFTER
    log.warning("mail %s to %s failed (attempt %d): %s", row.id, row.to_address, attempts, error)
    _update_leased(
        db,
        row,
        worker,
        attempts=attempts,
        last_error=_clip_error(error),
        failing_since=since,
        status=MailStatus.FAILED if give_up else MailStatus.PENDING,
        next_attempt_at=now + backoff(attempts),
    )


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
