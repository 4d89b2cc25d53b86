"""The ticker: APScheduler only says "now"; due rows in the database say what fires (engine.timers)."""
from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from engine import timers
from engine.store.db import Database

log = logging.getLogger(__name__)
TICK_SECONDS = 5


def _tick(db: Database) -> None:
    try:
        fired = timers.fire_due(db)
        if fired:
            log.info("fired %d timers", fired)
    except Exception:  # a failing tick must not stop the next one
        log.exception("timer tick failed")


def _configure(scheduler, db: Database, interval: float):
    # One tick at a time per process (max_instances=1); other processes are kept apart by the
    # row locks the tick takes, so any number of schedulers may run against one PostgreSQL.
    scheduler.add_job(_tick, "interval", seconds=interval, args=[db], max_instances=1, coalesce=True,
                      id="timers")
    return scheduler


def start_background(db: Database, interval: float = TICK_SECONDS) -> BackgroundScheduler:
    """For `bpm serve` on one machine: tick inside the web process."""
    scheduler = _configure(BackgroundScheduler(daemon=True), db, interval)
    scheduler.start()
    return scheduler


def run_forever(db: Database, interval: float = TICK_SECONDS) -> None:
    """For `bpm scheduler`: a process that only ticks (deployments with several web processes)."""
    _configure(BlockingScheduler(), db, interval).start()
