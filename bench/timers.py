"""Benchmark of timer precision under load (`make bench`): 10,000 timers falling due in the same
minute, fired by one scheduler. Targets: median lateness under 1 s, p99 under 5 s, none fired twice.

One run:
  1. makes a fresh database (a temp SQLite file; PostgreSQL `<db>_bpm_bench_timers` beside
     DATABASE_URL when that is postgres), migrates it, loads the demo organisation and deploys
     bench/bpmn/bench_timer.bpmn: start → a timer whose date comes from the case's data → a user task;
  2. starts N cases through the engine, the engine clock frozen in the future, each case's timer
     due at an even spread over one minute (the window);
  3. lets the engine clock run at real speed from a few seconds before the window, and starts the
     scheduler exactly as `bpm serve` does (engine.flows.scheduler.start_background: APScheduler ticking
     every second; the due rows and their leases in the database);
  4. waits until every timer fired, then reads each case's `timer_fired` history event: lateness =
     when it fired − when it was due; prints median, p95, p99 and max, the cases that fired more
     than once or never, and writes bench/results/timers.json.

Options: --timers N (10000), --window SECONDS (60), --quick (1,000 timers), --output PATH.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from engine import clock  # noqa: E402
from engine.definitions.deploy import deploy_folder  # noqa: E402
from engine.flows import scheduler  # noqa: E402
from engine.org.demo import load_demo  # noqa: E402
from engine.runtime import instances  # noqa: E402
from engine.store.db import Database, fresh_postgres_database  # noqa: E402
from engine.store.models import Event, Instance, User  # noqa: E402
from engine.store.schema import upgrade  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "timers.json"
TARGET_MEDIAN_S, TARGET_P99_S = 1.0, 5.0
FUTURE = datetime(2030, 1, 7, 1, 0, tzinfo=UTC)  # a Monday 09:00 Beijing time


def fresh_database() -> Database:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        url = fresh_postgres_database(url, "_bpm_bench_timers")
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bpm-bench-timers-')) / 'bench.db'}"
    db = Database(url)
    upgrade(db)
    with db.session(write=True) as session:
        load_demo(session)
        deploy_folder(session, ROOT / "bench" / "bpmn")
    return db


def start_cases(db: Database, count: int, window: float) -> tuple[datetime, datetime]:
    """`count` cases waiting on timers spread evenly over `window` seconds; answers the window."""
    first = FUTURE + timedelta(minutes=5)
    clock.set_time(FUTURE)
    with db.session() as session:
        emp_id = session.scalar(select(User.id).where(User.username == "emp"))
    started = time.perf_counter()
    for i in range(count):
        due = first + timedelta(seconds=window * i / count)
        with db.session(write=True) as session:
            instances.start(
                session, process_key="bench_timer", user=session.get(User, emp_id), engine_data={"due": due.isoformat()}
            )
        if (i + 1) % 2000 == 0:
            print(f"  {i + 1} cases started ({time.perf_counter() - started:.0f} s)", flush=True)
    return first, first + timedelta(seconds=window)


def fired_events(db: Database) -> list[tuple[int, datetime, datetime]]:
    with db.session() as session:
        rows = session.execute(
            select(Event.instance_id, Event.at, Event.data).where(
                Event.type == "timer_fired", Event.element_id == "wait"
            )
        ).all()
    return [(instance_id, at, datetime.fromisoformat(data["due_at"])) for instance_id, at, data in rows]


def count_fired(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Event).where(Event.type == "timer_fired"))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true", help="1,000 timers: a smoke run")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    count = 1_000 if args.quick else args.timers
    logging.basicConfig(level=logging.WARNING)

    db = fresh_database()
    print(f"timers benchmark: {count} timers due within {args.window:g} s, one scheduler, {db.engine.dialect.name}")
    print(f"  1/3 starting {count} cases waiting on their timers")
    first, _last = start_cases(db, count, args.window)

    print(
        "  2/3 the scheduler runs as in `bpm serve` (tick every "
        f"{scheduler.TICK_SECONDS:g} s); the engine clock runs from 5 s before the window"
    )
    clock.run_from(first - timedelta(seconds=5))
    ticker = scheduler.start_background(db)
    deadline = time.monotonic() + 5 + args.window + 600
    try:
        while count_fired(db) < count and time.monotonic() < deadline:
            time.sleep(1)
        time.sleep(2)  # anything that would fire twice has had its chance
    finally:
        ticker.shutdown(wait=True)
        clock.set_time(None)

    print("  3/3 reading the history")
    events = fired_events(db)
    per_case: dict[int, int] = {}
    for instance_id, _, _ in events:
        per_case[instance_id] = per_case.get(instance_id, 0) + 1
    with db.session() as session:
        cases = session.scalar(select(func.count()).select_from(Instance).where(Instance.process_key == "bench_timer"))
    twice = sum(1 for n in per_case.values() if n > 1)
    never = cases - len(per_case)
    lateness = [(at - due).total_seconds() for _, at, due in events]
    result = {
        "database": db.engine.dialect.name,
        "timers": count,
        "window_s": args.window,
        "tick_s": scheduler.TICK_SECONDS,
        "fired": len(events),
        "fired_twice": twice,
        "never_fired": never,
        "lateness_s": {
            "median": statistics.median(lateness),
            "p95": percentile(lateness, 95),
            "p99": percentile(lateness, 99),
            "max": max(lateness),
            "min": min(lateness),
        },
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    late = result["lateness_s"]
    print(f"\n  fired {len(events)} of {cases} cases; fired twice: {twice}; never fired: {never}")
    print(
        f"  lateness  median {late['median']:.3f} s   p95 {late['p95']:.3f} s   p99 {late['p99']:.3f} s   "
        f"max {late['max']:.3f} s"
    )
    ok = late["median"] < TARGET_MEDIAN_S and late["p99"] < TARGET_P99_S and twice == 0 and never == 0
    print(
        f"  target: median < {TARGET_MEDIAN_S:g} s, p99 < {TARGET_P99_S:g} s, each once: {'met' if ok else 'NOT MET'}"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2), encoding="utf-8")
    db.dispose()


if __name__ == "__main__":
    main()
