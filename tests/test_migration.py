"""Moving running cases to a newer version of their procedure (engine/runtime/migration.py).

A database of this module's own. Every test deploys t_migrate v1 afresh as the live version, starts its
cases on it, then deploys one of the later diagrams (tests/library/bpmn/t_migrate_v2_*.bpmn) on top:
  added    `apply` renamed with a new form, and a new step `check` (管理者代表) right after it
  removed  `apply` is gone
  retyped  `review` is a script task
  lane     `review` moves from 企管部 to 管理者代表
  timer    `review` gets a reminder (boundary timer)
  parallel `review` runs beside a new `countersign` (管理者代表) between a parallel split and join
(The library fixture deploys all of them in file order too; hence v1 afresh first.) One test moves a
t_features case halfway through its multi-instance step.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import clock, history
from engine.definitions.deploy import deploy
from engine.flows import timers
from engine.runtime import instances, migration, tasks
from engine.store.models import Event, Instance, ProcessVersion, Task, TaskCandidate, Timer, User

LIBRARY = Path(__file__).parent / "library"
KEY = "t_migrate"


@pytest.fixture(scope="module")
def mdb(own_database):
    return own_database("migration")


def deploy_file(db, name: str) -> int:
    """Deploy tests/library/bpmn/<name>.bpmn as the live version of t_migrate; its version number."""
    with db.session(write=True) as s:
        result = deploy(s, (LIBRARY / "bpmn" / f"{name}.bpmn").read_bytes(), folder=LIBRARY / "forms")
        assert result.version.process_key == KEY
        return result.version.version


def user(s, username: str) -> User:
    return s.scalar(select(User).where(User.username == username))


def start(db, count: int = 1, key: str = KEY) -> list[int]:
    with db.session(write=True) as s:
        return [instances.start(s, process_key=key, user=user(s, "emp")).id for _ in range(count)]


def open_row(s, instance_id: int, element_id: str) -> Task | None:
    return s.scalar(
        select(Task).where(Task.instance_id == instance_id, Task.element_id == element_id, Task.state == "open")
    )


def complete(db, instance_id: int, element_id: str, username: str, data: dict | None = None) -> None:
    with db.session(write=True) as s:
        row = open_row(s, instance_id, element_id)
        assert row is not None, f"no open {element_id} in case {instance_id}"
        tasks.complete(s, row.id, user=user(s, username), data=data or {})


def candidates(db, instance_id: int, element_id: str) -> set[str]:
    with db.session() as s:
        row = open_row(s, instance_id, element_id)
        assert row is not None, f"no open {element_id} in case {instance_id}"
        return set(
            s.scalars(
                select(User.username)
                .join(TaskCandidate, TaskCandidate.user_id == User.id)
                .where(TaskCandidate.task_id == row.id)
            )
        )


def snapshot(db, instance_id: int) -> tuple:
    """Everything a migration could change about a case."""
    with db.session() as s:
        case = s.get(Instance, instance_id)
        rows = sorted(
            (r.id, r.element_id, r.name, r.form_key, r.state)
            for r in s.scalars(select(Task).where(Task.instance_id == instance_id))
        )
        events = s.scalar(select(func.count()).select_from(Event).where(Event.instance_id == instance_id))
        return case.version_id, case.state, case.lock_version, case.status, case.path, rows, events


def version_id(db, version: int) -> int:
    with db.session() as s:
        return s.scalar(
            select(ProcessVersion.id).where(ProcessVersion.process_key == KEY, ProcessVersion.version == version)
        )


def do_plan(db, ids=None, to_version=None) -> list[migration.MigrationCheck]:
    with db.session() as s:
        return migration.plan(s, process_key=KEY, to_version=to_version, instance_ids=ids)


def do_migrate(db, ids, to_version=None) -> list[migration.MigrationCheck]:
    with db.session(write=True) as s:
        return migration.migrate(s, process_key=KEY, to_version=to_version, instance_ids=ids, actor=user(s, "admin"))


def migrated_events(db, instance_id: int) -> list[dict]:
    with db.session() as s:
        return [e for e in history.for_instance(s, instance_id) if e["type"] == history.EventType.MIGRATED]


# --- a case that may move -------------------------------------------------------------------------


def test_a_case_moved_before_a_new_step_goes_on_to_that_step(mdb):
    v1 = deploy_file(mdb, "t_migrate_v1")
    [case] = start(mdb)
    v2 = deploy_file(mdb, "t_migrate_v2_added")
    lock_before = snapshot(mdb, case)[2]

    [check] = do_plan(mdb, [case])
    assert (check.instance_id, check.from_version, check.to_version) == (case, v1, v2)
    assert check.ok and check.reasons == [] and check.current_steps == ["apply"]
    assert check.title.startswith("测试：实例迁移")

    [done] = do_migrate(mdb, [case])
    assert done.ok, done.reasons
    version, _, lock_version, status, *_ = snapshot(mdb, case)
    assert version == version_id(mdb, v2) and status == "running"
    assert lock_version == lock_before + 1, "a move is a write: a stale writer must fail its compare-and-set"
    [event] = migrated_events(mdb, case)
    assert event["actor"] == "admin" and event["comment"] == f"从版本 {v1} 迁移到版本 {v2}"
    assert event["data"] == {"from_version": v1, "to_version": v2}

    with mdb.session() as s:  # the open step reads as the new version has it, with the new form
        row = open_row(s, case, "apply")
        assert (row.name, row.form_key) == ("填写申请单", "t_migrate_form")
        assert [c["key"] for c in tasks.frozen_form(s, row)["components"]] == ["summary"]
    assert candidates(mdb, case, "apply") == {"emp"}

    complete(mdb, case, "apply", "emp", {"summary": "新版本的申请"})
    with mdb.session() as s:
        assert open_row(s, case, "review") is None, "v1 would have gone to review"
    assert candidates(mdb, case, "check") == {"mr"}
    complete(mdb, case, "check", "mr")
    assert candidates(mdb, case, "review") == {"qg_head", "qg_staff"}
    complete(mdb, case, "review", "qg_staff")
    with mdb.session() as s:
        assert s.get(Instance, case).status == "completed"


def test_a_moved_case_runs_the_new_versions_timer(mdb):
    t0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    clock.set_time(t0)
    try:
        deploy_file(mdb, "t_migrate_v1")
        [case] = start(mdb)
        deploy_file(mdb, "t_migrate_v2_timer")
        [done] = do_migrate(mdb, [case])
        assert done.ok, done.reasons
        complete(mdb, case, "apply", "emp")
        with mdb.session() as s:
            [timer] = s.scalars(select(Timer).where(Timer.instance_id == case))
            assert timer.element_id == "remind" and timer.due_at == t0 + timedelta(days=1)
        clock.set_time(t0 + timedelta(days=1, minutes=1))
        assert timers.fire_due(mdb)
        with mdb.session() as s:
            notified = [e for e in history.for_instance(s, case) if e["type"] == history.EventType.NOTIFIED]
            assert [e["comment"] for e in notified] == ["请尽快审核"]
            assert notified[0]["data"]["to"] == ["qg_head", "qg_staff"]
            assert open_row(s, case, "review") is not None
    finally:
        clock.set_time(None)


def test_a_case_halfway_through_a_multi_instance_step_moves_and_finishes_it(mdb):
    """t_features: one 部门自查 per department (a parallel multi-instance task with boundary timers)."""
    with mdb.session(write=True) as s:
        case = instances.start(s, process_key="t_features", user=user(s, "qg_staff")).id
        tasks.complete(s, open_row(s, case, "plan").id, user=user(s, "qg_staff"), data={"departments": ["tech", "ops"]})
    with mdb.session(write=True) as s:
        rows = {
            s.get(User, r.assignee_id).username: r.id
            for r in s.scalars(select(Task).where(Task.instance_id == case, Task.state == "open"))
        }
        assert set(rows) == {"tech_head", "ops_head"}
        tasks.complete(
            s,
            rows["tech_head"],
            user=user(s, "tech_head"),
            data={"report": {"department": "tech", "score": 90, "finding": "无"}},
        )
        live = s.scalar(
            select(ProcessVersion)
            .where(ProcessVersion.process_key == "t_features")
            .order_by(ProcessVersion.version.desc())
            .limit(1)
        )
        xml = live.bpmn_xml.replace('name="判定等级"', 'name="判定风险等级"')
        new = deploy(s, xml, forms=live.forms, decisions=live.decisions).version.version
        [done] = migration.migrate(s, process_key="t_features", instance_ids=[case], actor=user(s, "admin"))
        assert done.ok and done.to_version == new, done.reasons
        assert done.current_steps == ["check", "late", "remind"]
    with mdb.session(write=True) as s:
        assert open_row(s, case, "check").name == "部门自查"
        tasks.complete(
            s,
            rows["ops_head"],
            user=user(s, "ops_head"),
            data={"report": {"department": "ops", "score": 70, "finding": "培训记录不全"}},
        )
    with mdb.session() as s:
        moved = s.get(Instance, case)
        assert moved.status == "completed", moved.error
        assert moved.data["level"] == "低" and len(moved.data["reports"]) == 2


# --- cases that may not move ----------------------------------------------------------------------


def test_a_case_that_did_a_step_the_new_version_removed_stays_as_it_was(mdb):
    v1 = deploy_file(mdb, "t_migrate_v1")
    [case] = start(mdb)
    complete(mdb, case, "apply", "emp")
    before = snapshot(mdb, case)
    deploy_file(mdb, "t_migrate_v2_removed")

    [check] = do_plan(mdb, [case])
    assert not check.ok and check.current_steps == ["review"]
    assert check.reasons == ["已完成的步骤 apply（填写申请）在新版本中被删除"]
    [done] = do_migrate(mdb, [case])
    assert not done.ok and done.reasons == check.reasons
    assert snapshot(mdb, case) == before and migrated_events(mdb, case) == []

    complete(mdb, case, "review", "qg_head")  # it runs on, on its own version
    with mdb.session() as s:
        case_row = s.get(Instance, case)
        assert case_row.status == "completed" and s.get(ProcessVersion, case_row.version_id).version == v1


@pytest.mark.parametrize(
    "variant, done_steps, reason",
    [
        ("t_migrate_v2_removed", [], "当前步骤 apply（填写申请）在新版本中被删除"),
        ("t_migrate_v2_retyped", ["apply"], "当前步骤 review（企管部审核）在新版本中类型改变（用户任务 → 脚本任务）"),
        (
            "t_migrate_v2_timer",
            ["apply"],
            "当前步骤 review（企管部审核）在新版本中新增了边界事件，已在进行中的步骤无法补上，不能迁移",
        ),
    ],
    ids=["removed", "retyped", "boundary-added"],
)
def test_a_case_waiting_on_a_step_the_new_version_changed_cannot_move(mdb, variant, done_steps, reason):
    deploy_file(mdb, "t_migrate_v1")
    [case] = start(mdb)
    for step in done_steps:
        complete(mdb, case, step, "emp")
    before = snapshot(mdb, case)
    deploy_file(mdb, variant)

    [check] = do_plan(mdb, [case])
    assert not check.ok and check.reasons == [reason]
    [done] = do_migrate(mdb, [case])
    assert not done.ok and done.reasons == [reason]
    assert snapshot(mdb, case) == before


def test_a_case_waiting_on_a_step_moved_to_another_lane_cannot_move(mdb):
    deploy_file(mdb, "t_migrate_v1")
    [case] = start(mdb)
    complete(mdb, case, "apply", "emp")
    before = snapshot(mdb, case)
    deploy_file(mdb, "t_migrate_v2_lane")

    [check] = do_plan(mdb, [case])
    assert not check.ok and len(check.reasons) == 1
    assert "review（企管部审核）" in check.reasons[0] and "mgmt_rep" in check.reasons[0]
    assert not do_migrate(mdb, [case])[0].ok
    assert snapshot(mdb, case) == before
    assert candidates(mdb, case, "review") == {"qg_head", "qg_staff"}, "the people holding it keep it"


def test_a_new_parallel_section_takes_cases_before_it_but_not_cases_inside_it(mdb):
    deploy_file(mdb, "t_migrate_v1")
    before_it, inside_it = start(mdb, 2)
    complete(mdb, inside_it, "apply", "emp")
    left = snapshot(mdb, inside_it)
    deploy_file(mdb, "t_migrate_v2_parallel")

    moved, refused = do_migrate(mdb, [before_it, inside_it])
    assert moved.ok, moved.reasons
    # at `review` the new join would wait for a `countersign` branch the case never started
    assert (
        not refused.ok
        and "split（分头审核）" in " ".join(refused.reasons)
        and "join（审核汇总）" in " ".join(refused.reasons)
    )
    assert snapshot(mdb, inside_it) == left

    complete(mdb, before_it, "apply", "emp")
    assert candidates(mdb, before_it, "review") == {"qg_head", "qg_staff"}
    assert candidates(mdb, before_it, "countersign") == {"mr"}
    complete(mdb, before_it, "countersign", "mr")
    complete(mdb, before_it, "review", "qg_head")
    with mdb.session() as s:
        assert s.get(Instance, before_it).status == "completed"


def test_the_move_checks_again_and_does_not_trust_an_earlier_dry_run(mdb):
    deploy_file(mdb, "t_migrate_v1")
    [case] = start(mdb)
    deploy_file(mdb, "t_migrate_v2_lane")
    assert do_plan(mdb, [case])[0].ok  # at `apply`, which the new version leaves as it was
    complete(mdb, case, "apply", "emp")  # meanwhile it reached `review`, which moved lanes
    before = snapshot(mdb, case)

    [done] = do_migrate(mdb, [case])
    assert not done.ok and "mgmt_rep" in done.reasons[0]
    assert snapshot(mdb, case) == before


def test_a_completed_case_cannot_move(mdb):
    deploy_file(mdb, "t_migrate_v1")
    [case] = start(mdb)
    complete(mdb, case, "apply", "emp")
    complete(mdb, case, "review", "qg_staff")
    before = snapshot(mdb, case)
    deploy_file(mdb, "t_migrate_v2_added")

    [check] = do_migrate(mdb, [case])
    assert not check.ok and check.reasons == ["实例已结束（已完成），不能迁移"]
    assert snapshot(mdb, case) == before


def test_a_case_in_error_must_be_retried_first(mdb):
    deploy_file(mdb, "t_migrate_v1")
    [case] = start(mdb)
    with mdb.session(write=True) as s:  # as a failing script step leaves it
        s.get(Instance, case).status = "error"
    deploy_file(mdb, "t_migrate_v2_added")
    assert do_plan(mdb, [case])[0].reasons == ["实例处于错误状态，请先重试"]
    assert not do_migrate(mdb, [case])[0].ok


# --- the dry run and many cases at once -----------------------------------------------------------


def test_the_dry_run_changes_nothing(mdb):
    deploy_file(mdb, "t_migrate_v1")
    at_apply, at_review = start(mdb, 2)
    complete(mdb, at_review, "apply", "emp")
    before = [snapshot(mdb, case) for case in (at_apply, at_review)]
    deploy_file(mdb, "t_migrate_v2_added")

    checks = do_plan(mdb, [at_apply, at_review])
    assert [c.ok for c in checks] == [True, True]
    assert [c.current_steps for c in checks] == [["apply"], ["review"]]
    assert [snapshot(mdb, case) for case in (at_apply, at_review)] == before


def test_many_cases_at_once_move_only_the_ones_that_may(mdb):
    v1 = deploy_file(mdb, "t_migrate_v1")
    at_apply, at_review, finished = start(mdb, 3)
    complete(mdb, at_review, "apply", "emp")
    complete(mdb, finished, "apply", "emp")
    complete(mdb, finished, "review", "qg_head")
    [other] = start(mdb, key="t_quick")
    v2 = deploy_file(mdb, "t_migrate_v2_lane")
    before = {case: snapshot(mdb, case) for case in (at_review, finished, other)}
    unknown = 987654321

    results = do_migrate(mdb, [at_review, unknown, at_apply, finished, other])
    assert [r.instance_id for r in results] == [at_review, unknown, at_apply, finished, other], "in the order asked"
    by_id = {r.instance_id: r for r in results}
    assert by_id[at_apply].ok and (by_id[at_apply].from_version, by_id[at_apply].to_version) == (v1, v2)
    assert not by_id[at_review].ok and "mgmt_rep" in by_id[at_review].reasons[0]
    assert by_id[unknown].reasons == ["实例不存在"] and by_id[unknown].from_version is None
    assert by_id[finished].reasons == ["实例已结束（已完成），不能迁移"]
    assert by_id[other].reasons == [f"实例属于流程 t_quick，不是 {KEY}"]

    assert snapshot(mdb, at_apply)[0] == version_id(mdb, v2)
    assert {case: snapshot(mdb, case) for case in before} == before
    complete(mdb, at_apply, "apply", "emp")
    assert candidates(mdb, at_apply, "review") == {"mr"}, "the moved case follows the new lanes"
    complete(mdb, at_review, "review", "qg_staff")  # the one left behind follows v1
    with mdb.session() as s:
        assert s.get(Instance, at_review).status == "completed"


def test_without_ids_the_dry_run_and_the_move_take_the_unfinished_cases_on_older_versions(mdb):
    deploy_file(mdb, "t_migrate_v1")
    old, finished = start(mdb, 2)
    complete(mdb, finished, "apply", "emp")
    complete(mdb, finished, "review", "qg_staff")
    v2 = deploy_file(mdb, "t_migrate_v2_added")
    [current] = start(mdb)

    listed = {c.instance_id: c for c in do_plan(mdb)}
    assert old in listed and listed[old].ok
    assert finished not in listed and current not in listed
    with mdb.session() as s:
        for instance_id in listed:
            case = s.get(Instance, instance_id)
            assert case.process_key == KEY and case.status in ("running", "error")
            assert s.get(ProcessVersion, case.version_id).version < v2

    [same] = do_plan(mdb, [current])
    assert not same.ok and same.reasons == [f"实例已在版本 {v2}，不低于目标版本 {v2}"]
    everything = {c.instance_id: c for c in do_migrate(mdb, None)}  # no ids: what the dry run lists
    assert set(everything) == set(listed) and everything[old].ok
    assert snapshot(mdb, old)[0] == version_id(mdb, v2)
    again = do_migrate(mdb, [old])[0]
    assert not again.ok and again.reasons == [f"实例已在版本 {v2}，不低于目标版本 {v2}"]
    assert len(migrated_events(mdb, old)) == 1


def test_a_case_moves_to_a_chosen_older_version_only_forward(mdb):
    v1 = deploy_file(mdb, "t_migrate_v1")
    [case] = start(mdb)
    v_added = deploy_file(mdb, "t_migrate_v2_added")
    deploy_file(mdb, "t_migrate_v2_lane")  # live now; the admin picks the version before it

    [done] = do_migrate(mdb, [case], to_version=v_added)
    assert done.ok and (done.from_version, done.to_version) == (v1, v_added)
    assert snapshot(mdb, case)[0] == version_id(mdb, v_added)
    [back] = do_plan(mdb, [case], to_version=v1)
    assert not back.ok and back.reasons == [f"实例已在版本 {v_added}，不低于目标版本 {v1}"]
