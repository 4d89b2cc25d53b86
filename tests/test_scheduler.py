"""`bpm scheduler` as a real process: it fires a timer that fell due, once."""

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from engine import clock
from engine.runtime import instances
from engine.store.db import Database
from engine.store.models import Event, Task, Timer, User


def test_scheduler_process_fires_due_boundary_timer(api, db, db_url):
    clock.set_time(None)  # the scheduler process runs on the real clock; so does this case
    case = api.start("t_quick", "emp")  # a reminder one second after the task opens
    env = {**os.environ, "DATABASE_URL": db_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bpmcli", "scheduler", "--interval", "0.5"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        fired = []
        while time.monotonic() < deadline:
            with db.session() as session:
                fired = list(
                    session.scalars(
                        select(Event.element_id).where(Event.instance_id == case["id"], Event.type == "timer_fired")
                    )
                )
            if fired:
                break
            time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(10)
    assert fired == ["soon"], proc.stdout.read().decode()
    time.sleep(1)
    with db.session() as session:
        notes = list(session.scalars(select(Event).where(Event.instance_id == case["id"], Event.type == "notified")))
    assert [n.data["to"] for n in notes] == [["emp"]]  # once, to the person the task waits on


# ---- several scheduler processes against one PostgreSQL --------------------------------------------


def _start_schedulers(url: str, count: int, tmp_path, **env) -> list[tuple[subprocess.Popen, Path]]:
    procs = []
    for i in range(count):
        log = tmp_path / f"scheduler{i}.log"
        out = log.open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bpmcli", "scheduler", "--interval", "0.2"],
            env={**os.environ, "DATABASE_URL": url, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        procs.append((proc, log))
    deadline = time.monotonic() + 30
    while not all("定时器触发进程已启动" in log.read_text(encoding="utf-8", errors="replace") for _, log in procs):
        assert time.monotonic() < deadline, [log.read_text(errors="replace") for _, log in procs]
        time.sleep(0.1)
    return procs


def _stop(procs) -> None:
    for proc, _ in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc, _ in procs:
        proc.wait(10)


def _start_waiting_cases(database: Database, count: int, seconds: float) -> list[int]:
    """`count` cases whose timers fall due `seconds` from now. The engine clock stands still here while
    they start, so none is already due (and fired at once) when it starts, however slow the machine."""
    now = datetime.now(UTC)
    clock.set_time(now)
    try:
        with database.session() as session:
            emp_id = session.scalar(select(User.id).where(User.username == "emp"))
        ids = []
        for _ in range(count):
            with database.session(write=True) as session:
                ids.append(
                    instances.start(
                        session,
                        process_key="t_at",
                        user=session.get(User, emp_id),
                        engine_data={"due": (now + timedelta(seconds=seconds)).isoformat()},
                    ).id
                )
        return ids
    finally:
        clock.set_time(None)


def _fired_per_case(database: Database, ids: list[int]) -> dict[int, int]:
    with database.session() as session:
        rows = session.execute(
            select(Event.instance_id, func.count())
            .where(Event.type == "timer_fired", Event.instance_id.in_(ids))
            .group_by(Event.instance_id)
        ).all()
    return dict(rows)


def _wait_until_all_fired(database: Database, ids: list[int], procs, seconds: float = 120) -> dict[int, int]:
    deadline = time.monotonic() + seconds
    while len(fired := _fired_per_case(database, ids)) < len(ids):
        assert time.monotonic() < deadline, (len(fired), [log.read_text(errors="replace")[-2000:] for _, log in procs])
        time.sleep(0.5)
    time.sleep(2)  # a second firing would have happened by now
    return _fired_per_case(database, ids)


def _fired_by_log(log: Path) -> int:
    return sum(int(m) for m in re.findall(r"fired (\d+) timers", log.read_text(encoding="utf-8", errors="replace")))


def test_three_scheduler_processes_fire_each_timer_exactly_once(pg_url, tmp_path):
    clock.set_time(None)
    database = Database(pg_url)
    procs = _start_schedulers(pg_url, 3, tmp_path)
    try:
        # All due at one moment once every process is ticking: they race for the same rows.
        ids = _start_waiting_cases(database, 600, 10)
        fired = _wait_until_all_fired(database, ids, procs)
    finally:
        _stop(procs)
    assert set(fired.values()) == {1}
    with database.session() as session:
        open_work = session.execute(
            select(Task.instance_id, func.count())
            .where(Task.instance_id.in_(ids), Task.element_id == "work", Task.state == "open")
            .group_by(Task.instance_id)
        ).all()
    assert len(open_work) == 600 and {n for _, n in open_work} == {1}  # one task each, none made twice
    per_process = [_fired_by_log(log) for _, log in procs]
    assert sum(per_process) == 600, per_process
    assert sum(1 for n in per_process if n) >= 2, per_process  # they really shared the work
    database.dispose()


def test_a_scheduler_killed_mid_fire_loses_no_timer_and_fires_none_twice(pg_url, tmp_path):
    clock.set_time(None)
    database = Database(pg_url)
    lease = {"BPM_TIMER_LEASE_SECONDS": "3"}
    (tmp_path / "victim").mkdir()
    [(victim, victim_log)] = _start_schedulers(pg_url, 1, tmp_path / "victim", **lease)
    others = []
    try:
        # Stopped while the cases start, so that all 400 are due when it wakes and it claims them in
        # full batches, however slowly they start on a busy machine.
        victim.send_signal(signal.SIGSTOP)
        ids = _start_waiting_cases(database, 400, 2)
        time.sleep(2)
        victim.send_signal(signal.SIGCONT)
        held_by_victim = (
            select(func.count())
            .select_from(Timer)
            .where(Timer.instance_id.in_(ids), Timer.locked_by.like(f"%:{victim.pid}:%"))
        )
        deadline = time.monotonic() + 60
        while True:  # kill it while it holds a claimed batch it has not fired yet
            with database.session() as session:
                if session.scalar(held_by_victim) >= 10:
                    break
            assert time.monotonic() < deadline, victim_log.read_text(errors="replace")
            time.sleep(0.02)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        with database.session() as session:
            orphaned = session.scalar(held_by_victim)
        assert orphaned >= 1  # rows it claimed and never fired, under a lease nobody will release
        others = _start_schedulers(pg_url, 2, tmp_path, **lease)
        fired = _wait_until_all_fired(database, ids, others)
    finally:
        _stop(others + [(victim, victim_log)])
    assert len(fired) == 400 and set(fired.values()) == {1}
    database.dispose()


def test_a_lease_left_by_a_dead_process_holds_its_timer_only_until_it_runs_out(api, db, clock):
    case = api.start("t_quick", "emp")  # a reminder one second after the task opens
    with db.session(write=True) as session:
        row = session.scalar(select(Timer).where(Timer.instance_id == case["id"]))
        row.locked_by, row.locked_until = "gone-host:4242:MainThread", clock.now() + timedelta(seconds=60)

    def fired():
        return [e for e in api.case(case["id"])["history"] if e["type"] == "timer_fired"]

    clock.advance(seconds=30)
    assert fired() == []  # the dead process's claim still holds
    clock.advance(seconds=31)
    assert [e["element_id"] for e in fired()] == ["soon"]
    clock.advance(minutes=10)
    assert len(fired()) == 1
