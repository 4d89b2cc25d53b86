"""What the library's diagrams rely on: multi-instance per department, boundary timers driven by the
engine clock, timer starts, DMN decisions, numbering, and cases that start other cases."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from engine.flows import timers
from engine.store.models import Instance, StartSchedule


def _history(api, instance_id, type_=None):
    events = api.get(f"/instances/{instance_id}", "admin").json["history"]
    return [e for e in events if type_ is None or e["type"] == type_]


def _start_features(api):
    case = api.start("t_features", "qg_staff")
    plan = api.open_task(case["id"], "qg_staff", "plan")
    body = api.complete(plan["id"], "qg_staff", {"departments": ["tech", "ops"]})
    return case, body


def test_only_starter_roles_start_it_by_hand(api, clock):
    r = api.post("/processes/t_features/instances", "emp", {"data": {}})
    assert r.status_code == 403 and "qg" in r.json["message"]


def test_one_task_per_department_for_its_head_then_rule_number_and_child_cases(api, clock):
    case, body = _start_features(api)
    checks = sorted((t["candidate_users"], t["element_id"]) for t in body["tasks"])
    assert checks == [(["ops_head"], "check"), (["tech_head"], "check")]
    for t in body["tasks"]:
        user = t["candidate_users"][0]
        dept = "tech" if user == "tech_head" else "ops"
        api.complete(
            t["id"],
            user,
            {"report": {"department": dept, "score": 90 if dept == "tech" else 70, "finding": f"{dept} 培训记录不全"}},
        )
    done = api.get(f"/instances/{case['id']}", "qg_staff").json
    assert done["status"] == "completed", done["error"]
    assert done["data"]["level"] == "低"  # min score 70 → the DMN's second rule
    assert done["data"]["report_no"].startswith("SN2026")
    children = [e["data"] for e in done["history"] if e["type"] == "case_started"]
    assert len(children) == 2
    assert sorted(c["id"] for c in done["children"]) == sorted(c["instance_id"] for c in children)
    for link in children:
        child = api.get(f"/instances/{link['instance_id']}", "admin").json
        assert child["process_key"] == "t_child" and child["parent_instance_id"] == case["id"]
        head = {"tech": "tech_head", "ops": "ops_head"}[child["data"]["department"]]
        assert child["tasks"][0]["candidate_users"] == [head]


def test_one_task_per_department_completes_after_a_restart(api, clock):
    """The items of a multi-instance step were created by another process (or before a restart): a fresh
    compile of the version must still let the step complete when the last item is done."""
    from engine.definitions.cache import SPECS

    case, body = _start_features(api)
    SPECS._entries.clear()  # what a restarted web process starts with
    for t in body["tasks"]:
        user = t["candidate_users"][0]
        dept = "tech" if user == "tech_head" else "ops"
        api.complete(t["id"], user, {"report": {"department": dept, "score": 80, "finding": "无"}})
    done = api.get(f"/instances/{case['id']}", "qg_staff").json
    assert done["status"] == "completed", (
        done["error"],
        [t["element_id"] for t in done["tasks"] if t["state"] == "open"],
    )


def test_numbers_are_consecutive_and_never_reused(api, clock):
    numbers = []
    for _ in range(2):
        case, body = _start_features(api)
        for t in body["tasks"]:
            user = t["candidate_users"][0]
            api.complete(t["id"], user, {"report": {"department": "tech", "score": 85}})
        numbers.append(api.get(f"/instances/{case['id']}", "admin").json["data"]["report_no"])
    first, second = (int(n[-3:]) for n in numbers)
    assert second == first + 1


def test_reminder_then_escalation_by_boundary_timers(api, clock):
    case, _body = _start_features(api)
    clock.advance(days=4)
    assert _history(api, case["id"], "timer_fired") == []
    clock.advance(days=1, minutes=1)  # day 5: the non-interrupting reminder
    notes = _history(api, case["id"], "notified")
    assert len(notes) == 1 and sorted(notes[0]["data"]["to"]) == ["ops_head", "tech_head"]
    assert {
        t["element_id"] for t in api.get(f"/instances/{case['id']}", "admin").json["tasks"] if t["state"] == "open"
    } == {"check"}
    clock.advance(days=2)  # day 7: the interrupting escalation replaces the department checks
    now = api.get(f"/instances/{case['id']}", "admin").json
    open_tasks = [t for t in now["tasks"] if t["state"] == "open"]
    assert [(t["element_id"], t["candidate_users"]) for t in open_tasks] == [("escalated", ["mr"])]
    assert {t["state"] for t in now["tasks"] if t["element_id"] == "check"} == {"cancelled"}
    assert [e["element_id"] for e in _history(api, case["id"], "timer_fired")] == ["remind", "late"]
    clock.advance(days=30)  # nothing fires twice
    assert [e["element_id"] for e in _history(api, case["id"], "timer_fired")] == ["remind", "late"]


def test_timer_start_fires_once_even_after_missed_quarters(api, clock, db):
    with db.session(write=True) as session:
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == "t_features"))
        row.next_due_at = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)  # other tests may have moved on
    clock.set(datetime(2027, 4, 2, 0, 0, tzinfo=UTC))  # down over two quarter starts (1 Jan, 1 Apr)
    with db.session() as session:
        before = session.scalar(select(Instance.id).order_by(Instance.id.desc()).limit(1))
    timers.fire_due(db)
    with db.session() as session:
        started = list(
            session.scalars(select(Instance).where(Instance.id > before, Instance.process_key == "t_features"))
        )
        assert len(started) == 1
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == "t_features"))
        assert row.next_due_at == datetime(2027, 7, 1, 1, 0, tzinfo=UTC)
    note = _history(api, started[0].id, "timer_fired")[0]
    assert note["data"]["missed"] == 1 and "错过 2 次" in note["comment"]
    timers.fire_due(db)
    with db.session() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(Instance)
                .where(Instance.id > before, Instance.process_key == "t_features")
            )
            == 1
        )


def _library_check(tmp_path, files: dict[str, str]):
    from click.testing import CliRunner

    import bpmcli

    (tmp_path / "bpmn").mkdir()
    (tmp_path / "forms").mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "forms" / "t_note.form").write_text(
        '{"id": "t_note", "type": "default", "components": []}', encoding="utf-8"
    )
    return CliRunner().invoke(bpmcli.main, ["validate", str(tmp_path / "bpmn")])


def _thrower(key: str, message: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d_{key}" targetNamespace="x">
  <bpmn:message id="m" name="{message}"/>
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateThrowEvent id="throw"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="m"/></bpmn:intermediateThrowEvent>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="throw"/><bpmn:sequenceFlow id="f2" sourceRef="throw" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_message_nobody_receives_is_refused_at_the_element(tmp_path):
    result = _library_check(tmp_path, {"bpmn/a.bpmn": _thrower("a", "hello")})
    assert result.exit_code == 1
    assert "throw" in result.output and "没有接收者" in result.output


def test_a_case_started_from_a_procedure_missing_from_the_library_is_refused(tmp_path):
    result = _library_check(tmp_path, {"bpmn/a.bpmn": _thrower("a", "start:nowhere")})
    assert result.exit_code == 1 and "要发起的流程 nowhere 不在流程库中" in result.output


def test_a_started_procedure_needs_a_matching_message_start(tmp_path):
    result = _library_check(tmp_path, {"bpmn/a.bpmn": _thrower("a", "start:b"), "bpmn/b.bpmn": _thrower("b", "notify")})
    assert result.exit_code == 1 and "没有接收“start:b”的消息启动事件" in result.output


def test_no_department_head_is_refused_at_start_not_left_as_a_stuck_task(api):
    r = api.post("/processes/t_later_head/instances", "vp", {"data": {}})  # 公司领导 has no department head
    assert r.status_code == 400
    assert "部门负责人" in r.json["message"] and "公司领导" in r.json["message"]


def test_an_applicant_never_approves_their_own_application(api):
    r = api.post("/processes/t_later_head/instances", "ops_head", {"data": {}})
    assert r.status_code == 400 and "申请人本人" in r.json["message"]
    case = api.start("t_later_head", "emp")
    api.walk(case["id"], [("apply", "emp", {"note": "申请"})])
    assert api.open_task(case["id"], "ops_head", "approve")["candidate_users"] == ["ops_head"]


def test_an_escalation_nobody_can_take_puts_the_case_in_error_and_other_timers_still_fire(api, clock, db):
    from engine.store.models import User

    stuck, _ = _start_features(api)
    other = api.start("t_quick", "emp")  # a reminder due after one second

    def set_mr_active(active):
        with db.session(write=True) as session:
            session.scalar(select(User).where(User.username == "mr")).active = active

    set_mr_active(False)
    try:
        clock.advance(days=8)
    finally:
        set_mr_active(True)
    case = api.case(stuck["id"])
    assert case["status"] == "error" and "定时器" in case["error"] and "管理者代表" in case["error"]
    assert [e["type"] for e in _history(api, other["id"], "notified")] == ["notified"]
    clock.advance(minutes=1)  # the failed case is not retried on every tick
    assert len(_history(api, stuck["id"], "error")) == 1


def test_two_start_events_and_a_one_week_wait(api, clock):
    case = api.start("t_wait", "emp")  # by hand: the none start event of two
    api.walk(case["id"], [("issue", "emp", {"note": "整改计划已下发"})])
    clock.advance(days=6, hours=23)
    assert not [t for t in api.case(case["id"])["tasks"] if t["state"] == "open"]
    clock.advance(hours=2)
    api.walk(case["id"], [("follow_up", "emp", {"note": "已整改"})])
    done = api.case(case["id"])
    assert done["status"] == "completed"
    assert [e["element_id"] for e in done["history"] if e["type"] == "timer_fired"] == ["week"]
