"""Every BPMN timer fires, written as Camunda Modeler, bpmn.io and Signavio write them (plain ISO 8601 text,
with and without xsi:type) and as expressions over the case's data: when it fires (not before, at the
right minute), what happens after, and that each firing writes exactly one `timer_fired` event.

The diagrams are in tests/library_timers/: `bpmn/` is deployed once for the module; each diagram in
`starts/` (timer start events) is deployed by the test that owns it, so its schedule counts from then.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from engine import clock
from engine.definitions.deploy import deploy, deploy_folder
from engine.flows import timers
from engine.store.models import Instance, StartSchedule, Timer

LIBRARY = Path(__file__).parent / "library_timers"
BEIJING = ZoneInfo("Asia/Shanghai")


def beijing(text: str) -> datetime:
    """A wall-clock time in Beijing, as the people who run the procedures read it."""
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING)


T0 = beijing("2026-11-23 09:00")  # when the module's diagrams go live; every test starts here
MINUTE = timedelta(minutes=1)


@pytest.fixture(scope="module")
def database(own_database):
    database = own_database("timers")
    clock.set_time(T0)
    try:
        with database.session(write=True) as session:
            deploy_folder(session, LIBRARY / "bpmn")
    finally:
        clock.set_time(None)
    return database


@pytest.fixture(scope="module")
def api(database, api_on):
    """The API on this module's database (not the shared one)."""
    return api_on(database)


class Timeline:
    """The engine clock on this module's database: every move fires what fell due, as the scheduler would."""

    def __init__(self, database):
        self.database = database

    def go(self, moment: datetime) -> None:
        clock.set_time(moment)
        timers.fire_due(self.database)

    def advance(self, **delta) -> None:
        self.go(clock.now() + timedelta(**delta))


@pytest.fixture
def time(database):
    clock.set_time(T0)
    yield Timeline(database)
    clock.set_time(None)


# ---- reading a case ----------------------------------------------------------------------------------


def history(api, case_id: int, type_: str) -> list[dict]:
    return [e for e in api.case(case_id)["history"] if e["type"] == type_]


def fired(api, case_id: int) -> list[str]:
    """The timers that fired in this case, one entry per `timer_fired` event, in order."""
    return [e["element_id"] for e in history(api, case_id, "timer_fired")]


def open_steps(api, case_id: int) -> list[tuple[str, list[str]]]:
    """(element id, who may work it) of each open task."""
    return sorted(
        (t["element_id"], sorted(t["candidate_users"]) or [t["assignee"]])
        for t in api.case(case_id)["tasks"]
        if t["state"] == "open"
    )


def waiting_timers(database, case_id: int) -> dict[str, datetime]:
    with database.session() as session:
        return {
            row.element_id: row.due_at for row in session.scalars(select(Timer).where(Timer.instance_id == case_id))
        }


def at(event: dict) -> datetime:
    return datetime.fromisoformat(event["at"])


def work(api, case_id: int, element_id: str, user: str, data: dict | None = None) -> dict:
    return api.complete(api.open_task(case_id, user, element_id)["id"], user, data or {"note": "已办"})


# ---- timer start events ------------------------------------------------------------------------------


def deploy_start(database, key: str, changes: dict[str, str] | None = None) -> None:
    """Put a procedure with a timer start event live now (the engine clock), its text changed as given."""
    xml = (LIBRARY / "starts" / f"{key}.bpmn").read_text(encoding="utf-8")
    for old, new in (changes or {}).items():
        xml = xml.replace(old, new)
    with database.session(write=True) as session:
        assert deploy(session, xml, folder=LIBRARY / "forms", source="library").created


def started(database, key: str) -> list[int]:
    with database.session() as session:
        return list(session.scalars(select(Instance.id).where(Instance.process_key == key).order_by(Instance.id)))


def next_due(database, key: str) -> datetime | None:
    with database.session() as session:
        return session.scalar(select(StartSchedule.next_due_at).where(StartSchedule.process_key == key))


def assert_started_by_timer(api, case_id: int, element_id: str, due: datetime) -> None:
    """The case started at its due moment, by the timer, and says so once in its history."""
    notes = history(api, case_id, "timer_fired")
    assert [(n["element_id"], n["data"]["due_at"], n["data"]["missed"]) for n in notes] == [
        (element_id, due.astimezone(UTC).isoformat(), 0)
    ]
    assert at(notes[0]) == due
    assert "定时发起" in notes[0]["comment"]
    assert open_steps(api, case_id) == [("handle", ["qg_head", "qg_staff"])]


def run_schedule(time, database, api, key: str, element_id: str, dues: list[datetime]) -> None:
    """Nothing a minute before each due moment, exactly one more case at it."""
    for count, due in enumerate(dues, start=len(started(database, key))):
        assert next_due(database, key) == due
        time.go(due - MINUTE)
        assert len(started(database, key)) == count
        time.go(due)
        cases = started(database, key)
        assert len(cases) == count + 1
        assert_started_by_timer(api, cases[-1], element_id, due)


def test_a_date_start_starts_one_case_at_that_moment_and_never_another(database, api, time):
    deploy_start(database, "ts_date")
    run_schedule(time, database, api, "ts_date", "on_date", [beijing("2027-01-05 09:00")])
    assert next_due(database, "ts_date") is None
    time.go(beijing("2029-01-05 09:00"))
    assert len(started(database, "ts_date")) == 1


def test_a_quarterly_start_fires_on_each_quarter_day(database, api, time):
    deploy_start(database, "ts_quarterly")
    run_schedule(
        time,
        database,
        api,
        "ts_quarterly",
        "quarterly",
        [beijing("2027-01-01 09:00"), beijing("2027-04-01 09:00"), beijing("2027-07-01 09:00")],
    )
    # Down from 30 September to 2 October: the quarter is started late, once, then the schedule goes on.
    time.go(beijing("2027-10-02 08:00"))
    cases = started(database, "ts_quarterly")
    assert len(cases) == 4
    assert [n["data"]["due_at"] for n in history(api, cases[-1], "timer_fired")] == [
        beijing("2027-10-01 09:00").astimezone(UTC).isoformat()
    ]
    assert next_due(database, "ts_quarterly") == beijing("2028-01-01 09:00")


def test_every_december_starts_on_the_first_of_december_only(database, api, time):
    deploy_start(database, "ts_december")
    run_schedule(
        time, database, api, "ts_december", "every_december", [beijing("2026-12-01 09:00"), beijing("2027-12-01 09:00")]
    )
    assert next_due(database, "ts_december") == beijing("2028-12-01 09:00")


def test_a_yearly_cycle_without_a_start_date_counts_from_going_live(database, api, time):
    deploy_start(database, "ts_yearly")
    run_schedule(time, database, api, "ts_yearly", "yearly", [beijing("2027-11-23 09:00"), beijing("2028-11-23 09:00")])


def test_a_bounded_cycle_stops_after_its_repetitions(database, api, time):
    deploy_start(database, "ts_twice")
    run_schedule(time, database, api, "ts_twice", "twice", [beijing("2027-02-01 09:00"), beijing("2027-03-01 09:00")])
    assert next_due(database, "ts_twice") is None
    time.go(beijing("2028-06-01 09:00"))
    assert len(started(database, "ts_twice")) == 2


def test_a_monthly_cycle_from_the_31st_falls_on_each_months_last_day(database, api, time):
    deploy_start(database, "ts_month_end")
    run_schedule(
        time,
        database,
        api,
        "ts_month_end",
        "month_end",
        [
            beijing("2027-01-31 09:00"),
            beijing("2027-02-28 09:00"),
            beijing("2027-03-31 09:00"),
            beijing("2027-04-30 09:00"),
        ],
    )


def test_a_duration_start_fires_once_that_long_after_going_live(database, api, time):
    deploy_start(database, "ts_after_deploy")
    run_schedule(time, database, api, "ts_after_deploy", "after_deploy", [T0 + timedelta(hours=1)])
    assert next_due(database, "ts_after_deploy") is None
    for _ in range(3):
        time.advance(hours=1)
    time.advance(days=30)
    assert len(started(database, "ts_after_deploy")) == 1


def test_a_bounded_cycle_without_a_start_date_fires_its_count_from_going_live(database, api, time):
    deploy_start(database, "ts_three_days")
    run_schedule(
        time,
        database,
        api,
        "ts_three_days",
        "daily_three",
        [T0 + timedelta(days=1), T0 + timedelta(days=2), T0 + timedelta(days=3)],
    )
    assert next_due(database, "ts_three_days") is None
    time.advance(days=10)
    assert len(started(database, "ts_three_days")) == 3


def test_a_new_version_does_not_restart_a_schedule_counted_from_going_live(database, api, time):
    key = "ts_revised"
    deploy_start(database, "ts_three_days", {"ts_three_days": key})
    time.go(T0 + timedelta(hours=12))
    deploy_start(database, "ts_three_days", {"ts_three_days": key, "共三次": "共三次（修订）"})  # same timer
    run_schedule(
        time,
        database,
        api,
        key,
        "daily_three",
        [T0 + timedelta(days=1), T0 + timedelta(days=2), T0 + timedelta(days=3)],
    )
    time.go(T0 + timedelta(days=3, hours=12))
    deploy_start(database, "ts_three_days", {"ts_three_days": key, "R3/PT24H": "R2/PT24H"})  # a new timer
    run_schedule(
        time, database, api, key, "daily_three", [T0 + timedelta(days=4, hours=12), T0 + timedelta(days=5, hours=12)]
    )
    assert next_due(database, key) is None


# ---- intermediate timer events -------------------------------------------------------------------------


def test_a_wait_of_72_hours_counts_from_when_the_step_before_it_was_done(api, database, time):
    case = api.start("tm_wait", "emp")["id"]
    time.advance(hours=1)
    work(api, case, "apply", "emp")
    due = T0 + timedelta(hours=73)
    assert waiting_timers(database, case) == {"wait72": due}
    time.go(due - MINUTE)
    assert open_steps(api, case) == [] and fired(api, case) == []
    time.go(due + MINUTE)
    assert open_steps(api, case) == [("follow_up", ["emp"])]
    assert fired(api, case) == ["wait72"] and at(history(api, case, "timer_fired")[0]) == due + MINUTE
    assert waiting_timers(database, case) == {}
    work(api, case, "follow_up", "emp")
    time.advance(days=30)
    assert api.case(case)["status"] == "completed" and fired(api, case) == ["wait72"]


@pytest.mark.parametrize("key", ["tm_date", "tm_date_local"])
def test_a_wait_until_a_date_fires_at_nine_beijing_time(api, database, time, key):
    """`2027-01-05T09:00:00+08:00` as Signavio writes it, and `2027-01-05T09:00:00` without an offset:
    a time without an offset is the organisation's (BPM_TIMEZONE, Asia/Shanghai), whatever the server's."""
    case = api.start(key, "emp")["id"]
    due = beijing("2027-01-05 09:00")
    assert waiting_timers(database, case) == {"on_date": due}
    time.go(due - MINUTE)
    assert open_steps(api, case) == []
    time.go(due + MINUTE)
    assert open_steps(api, case) == [("follow_up", ["emp"])] and fired(api, case) == ["on_date"]
    time.advance(days=400)
    assert fired(api, case) == ["on_date"]


def test_waits_computed_from_a_form_date_and_a_number_of_days(api, database, time):
    case = api.start("tm_data", "emp")["id"]
    work(api, case, "plan", "emp", {"review_date": "2027-03-01", "days": 10})
    eve = beijing("2027-02-28 09:00")  # a datetime object without an offset: Beijing time
    assert waiting_timers(database, case) == {"eve": eve}
    time.go(eve - MINUTE)
    assert open_steps(api, case) == []
    time.go(eve + MINUTE)
    assert open_steps(api, case) == [("prepare", ["emp"])]
    work(api, case, "prepare", "emp")
    midnight = beijing("2027-03-01 00:00")  # a date alone: the start of that day in Beijing
    assert waiting_timers(database, case) == {"on_review_date": midnight}
    time.go(midnight - MINUTE)
    assert open_steps(api, case) == []
    time.go(midnight + MINUTE)
    assert open_steps(api, case) == [("review", ["emp"])]
    time.go(beijing("2027-03-01 10:00"))
    work(api, case, "review", "emp")
    due = beijing("2027-03-11 10:00")  # "P%dD" % days
    assert waiting_timers(database, case) == {"days_later": due}
    time.go(due - MINUTE)
    assert open_steps(api, case) == []
    time.go(due + MINUTE)
    assert open_steps(api, case) == [("close", ["emp"])]
    assert fired(api, case) == ["eve", "on_review_date", "days_later"]


# ---- boundary timers -------------------------------------------------------------------------------------


def test_an_interrupting_deadline_cancels_the_task_and_takes_the_timer_path(api, database, time):
    case = api.start("tm_deadline", "emp")["id"]
    due = T0 + timedelta(hours=72)
    assert waiting_timers(database, case) == {"late": due}
    time.go(due - MINUTE)
    assert open_steps(api, case) == [("work", ["emp"])] and fired(api, case) == []
    time.go(due + MINUTE)
    assert open_steps(api, case) == [("escalate", ["mr"])]
    assert {t["state"] for t in api.case(case)["tasks"] if t["element_id"] == "work"} == {"cancelled"}
    assert fired(api, case) == ["late"] and waiting_timers(database, case) == {}
    work(api, case, "escalate", "mr")
    assert api.case(case)["status"] == "completed"


def test_a_deadline_met_in_time_never_fires(api, database, time):
    case = api.start("tm_deadline", "emp")["id"]
    time.advance(hours=71)
    work(api, case, "work", "emp")
    assert api.case(case)["status"] == "completed" and waiting_timers(database, case) == {}
    time.advance(days=30)
    assert fired(api, case) == []


def test_a_non_interrupting_reminder_fires_once_and_the_task_stays_open(api, database, time):
    case = api.start("tm_remind", "emp")["id"]
    time.go(T0 + timedelta(days=1) - MINUTE)
    assert history(api, case, "notified") == []
    time.go(T0 + timedelta(days=1) + MINUTE)
    assert fired(api, case) == ["remind"]
    assert [n["data"]["to"] for n in history(api, case, "notified")] == [["emp"]]
    assert open_steps(api, case) == [("work", ["emp"])] and waiting_timers(database, case) == {}
    time.advance(days=10)
    assert fired(api, case) == ["remind"] and len(history(api, case, "notified")) == 1
    work(api, case, "work", "emp")
    assert api.case(case)["status"] == "completed"


def test_a_daily_reminder_fires_three_times_one_a_day_never_a_fourth(api, database, time):
    case = api.start("tm_remind_daily", "emp")["id"]
    for day in (1, 2, 3):
        due = T0 + timedelta(days=day)
        assert waiting_timers(database, case) == {"daily": due}
        time.go(due - MINUTE)
        assert fired(api, case) == ["daily"] * (day - 1)
        time.go(due + MINUTE)
        assert fired(api, case) == ["daily"] * day
        assert len(history(api, case, "notified")) == day
        assert open_steps(api, case) == [("work", ["emp"])]
    assert waiting_timers(database, case) == {}
    time.advance(days=5)
    assert fired(api, case) == ["daily"] * 3
    work(api, case, "work", "emp")
    assert api.case(case)["status"] == "completed"


def test_a_daily_reminder_stops_when_the_task_is_done(api, database, time):
    case = api.start("tm_remind_daily", "emp")["id"]
    for day in (1, 2):
        time.go(T0 + timedelta(days=day) + MINUTE)
    assert fired(api, case) == ["daily", "daily"]
    time.go(T0 + timedelta(days=2, hours=1))
    work(api, case, "work", "emp")
    assert api.case(case)["status"] == "completed" and waiting_timers(database, case) == {}
    time.advance(days=5)
    assert fired(api, case) == ["daily", "daily"]


def test_reminders_missed_while_the_system_was_down_are_each_in_the_history(api, database, time):
    case = api.start("tm_remind_daily", "emp")["id"]
    time.go(T0 + timedelta(days=2, hours=1))  # down over the first two days
    assert fired(api, case) == ["daily", "daily"] and len(history(api, case, "notified")) == 2
    time.go(T0 + timedelta(days=3) + MINUTE)
    time.advance(days=3)
    assert fired(api, case) == ["daily"] * 3 and len(history(api, case, "notified")) == 3


# ---- cases that end or go back while a timer waits --------------------------------------------------------


def test_a_case_withdrawn_while_waiting_never_fires(api, database, time):
    case = api.start("tm_date", "emp")["id"]
    r = api.post(f"/instances/{case}/withdraw", "emp", {"comment": "不再需要"})
    assert r.status_code == 200, r.json
    assert r.json["status"] == "withdrawn" and waiting_timers(database, case) == {}
    time.go(beijing("2027-01-06 09:00"))
    assert fired(api, case) == [] and api.case(case)["status"] == "withdrawn"


def test_withdrawn_to_the_step_before_a_wait_the_old_timer_never_fires(api, database, time):
    case = api.start("tm_wait", "emp")["id"]
    work(api, case, "apply", "emp")
    r = api.post(f"/instances/{case}/withdraw", "emp", {"comment": "申请要改"})
    assert r.status_code == 200, r.json
    assert open_steps(api, case) == [("apply", ["emp"])] and waiting_timers(database, case) == {}
    time.go(T0 + timedelta(days=4))
    assert fired(api, case) == []
    work(api, case, "apply", "emp")  # done again: the wait counts from now
    assert waiting_timers(database, case) == {"wait72": T0 + timedelta(days=7)}
    time.go(T0 + timedelta(days=7) + MINUTE)
    assert fired(api, case) == ["wait72"] and open_steps(api, case) == [("follow_up", ["emp"])]


# ---- subprocesses and child cases ---------------------------------------------------------------------------


def test_a_wait_inside_a_subprocess(api, database, time):
    case = api.start("tm_sub", "emp")["id"]
    time.advance(hours=1)
    work(api, case, "draft", "emp")
    due = T0 + timedelta(hours=25)
    assert waiting_timers(database, case) == {"cool_off": due, "overdue": T0 + timedelta(days=5)}
    time.go(due - MINUTE)
    assert open_steps(api, case) == []
    time.go(due + MINUTE)
    assert open_steps(api, case) == [("sign", ["emp"])] and fired(api, case) == ["cool_off"]
    work(api, case, "sign", "emp")
    assert api.case(case)["status"] == "completed" and waiting_timers(database, case) == {}
    time.advance(days=10)
    assert fired(api, case) == ["cool_off"]


def test_a_deadline_on_a_subprocess_cancels_what_waits_inside_it(api, database, time):
    case = api.start("tm_sub", "emp")["id"]
    time.go(T0 + timedelta(days=4, hours=12))
    work(api, case, "draft", "emp")  # the cooling-off would end after the deadline
    time.go(T0 + timedelta(days=5) - MINUTE)
    assert fired(api, case) == []
    time.go(T0 + timedelta(days=5) + MINUTE)
    assert open_steps(api, case) == [("escalate", ["mr"])] and fired(api, case) == ["overdue"]
    assert waiting_timers(database, case) == {}
    time.advance(days=2)
    assert fired(api, case) == ["overdue"]


def test_a_child_case_started_by_another_waits_on_its_own_timer(api, database, time):
    parent = api.start("tm_parent", "emp")["id"]
    time.advance(hours=2)
    work(api, parent, "order", "emp", {"note": "机房温控整改"})
    child = api.case(parent)["children"][0]["id"]
    assert api.case(parent)["status"] == "completed"
    due = T0 + timedelta(days=7, hours=2)
    assert waiting_timers(database, child) == {"week": due}
    time.go(due - MINUTE)
    assert open_steps(api, child) == []
    time.go(due + MINUTE)
    assert open_steps(api, child) == [("recheck", ["emp"])] and fired(api, child) == ["week"]
    assert api.case(child)["data"]["note"] == "机房温控整改"


# ---- failures and races ------------------------------------------------------------------------------------


def test_a_timer_naming_missing_data_shows_the_error_and_others_still_fire(api, database, time):
    broken = api.start("tm_bad", "emp")["id"]
    healthy = api.start("tm_deadline", "emp")["id"]
    work(api, broken, "apply", "emp")
    case = api.case(broken)
    assert case["status"] == "error" and "到期日" in case["error"] and "案件数据中没有 due_on" in case["error"]
    assert [e["element_id"] for e in history(api, broken, "error")] == ["until_due"]
    time.go(T0 + timedelta(hours=72) + MINUTE)
    assert fired(api, healthy) == ["late"] and open_steps(api, healthy) == [("escalate", ["mr"])]
    assert api.case(broken)["status"] == "error" and fired(api, broken) == []


def test_a_timer_that_failed_waits_again_once_retried_with_the_missing_data(api, database, time):
    broken = api.start("tm_bad", "emp")["id"]
    work(api, broken, "apply", "emp")
    assert api.case(broken)["status"] == "error"
    r = api.post(f"/instances/{broken}/retry", "admin", {"data": {"due_on": "2027-02-01"}, "reason": "补填到期日"})
    assert r.status_code == 200, r.json
    assert r.json["status"] == "running"
    assert waiting_timers(database, broken) == {"until_due": beijing("2027-02-01 09:00")}
    time.go(beijing("2027-02-01 09:01"))
    assert fired(api, broken) == ["until_due"] and open_steps(api, broken) == [("follow_up", ["emp"])]


def test_the_reply_before_the_deadline_wins_and_the_timer_never_fires(api, database, time):
    case = api.start("tm_race", "emp")["id"]
    assert waiting_timers(database, case) == {"no_reply": T0 + timedelta(hours=48)}
    time.advance(hours=47)
    work(api, case, "reply", "emp")
    assert api.case(case)["status"] == "completed" and waiting_timers(database, case) == {}
    path = api.get(f"/instances/{case}/diagram", "emp").json["completed"]
    assert "got_reply" in path and "no_reply" not in path
    time.advance(days=3)
    assert fired(api, case) == []


def test_the_deadline_before_the_reply_wins(api, database, time):
    case = api.start("tm_race", "emp")["id"]
    time.go(T0 + timedelta(hours=48) - MINUTE)
    assert open_steps(api, case) == [("reply", ["emp"])]
    time.go(T0 + timedelta(hours=48) + MINUTE)
    assert fired(api, case) == ["no_reply"]
    assert open_steps(api, case) == [("chase", ["mr"]), ("reply", ["emp"])]
    work(api, case, "chase", "mr")
    assert api.case(case)["status"] == "completed" and open_steps(api, case) == []
