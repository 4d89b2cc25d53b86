"""The ticker: APScheduler only says "now"; due rows in the database say what fires (engine/flows/timers.py)
and which mails go (engine.notifications). Two jobs, so a slow mail server never delays a timer."""

from __future__ import annotations

import logging
import os

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from engine import notifications
from engine.flows import timers
from engine.store.db import Database

log = logging.getLogger(__name__)


class _BusyTickFilter(logging.Filter):
    """A tick that works through a backlog outlasts the interval; APScheduler then warns on every
    interval that it skipped one. That is by design here (max_instances=1), not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_BusyTickFilter())
TICK_SECONDS = 1.0  # an idle tick is two indexed queries; a due timer waits half a tick on average
MAIL_SECONDS = 10.0


def timer_threads(db: Database) -> int:
    """Threads firing timers in this process: PostgreSQL lets them work at once; SQLite writes one at a time."""
    return int(os.environ.get("BPM_TIMER_THREADS") or (1 if db.is_sqlite else 3))


def _fire_timers(db: Database) -> None:
    try:
        fired = timers.fire_due_in_threads(db, timer_threads(db))
        if fired:
            log.info("fired %d timers", fired)
    except Exception:  # a failing tick must not stop the next one
        log.exception("timer tick failed")


def _send_mail(db: Database) -> None:
    try:
        sent = notifications.deliver_outbox(db)
        if sent:
            log.info("sent %d mails", sent)
    except Exception:
        log.exception("mail tick failed")


def _configure(scheduler, db: Database, interval: float, mail_interval: float):
    # One tick of each job at a time per process (max_instances=1); other processes are kept apart
    # by the leases the ticks take, so any number of schedulers may run against one PostgreSQL.
    scheduler.add_job(
        _fire_timers, "interval", seconds=interval, args=[db], max_instances=1, coalesce=True, id="timers"
    )
    scheduler.add_job(
        _send_mail, "interval", seconds=mail_interval, args=[db], max_instances=1, coalesce=True, id="mail"
    )
    return scheduler


def start_background(
    db: Database, interval: float = TICK_SECONDS, mail_interval: float = MAIL_SECONDS
) -> BackgroundScheduler:
    """For `bpm serve` on one machine: tick inside the web process."""
    scheduler = _configure(BackgroundScheduler(daemon=True), db, interval, mail_interval)
    scheduler.start()
    return scheduler


def run_forever(db: Database, interval: float = TICK_SECONDS, mail_interval: float = MAIL_SECONDS) -> None:
    """For `bpm scheduler`: a process that only ticks (deployments with several web processes)."""
    _configure(BlockingScheduler(), db, interval, mail_interval).start()
