"""年度培训计划 (《培训控制程序》3.3、4.2.1–4.2.2): needs from every department in parallel, HR compiles,
分管副总 and 管理者代表 review, 总裁 approves, HR issues; Q4 timer start; deadline reminder and escalation."""

from datetime import UTC

import pytest
from sqlalchemy import select

from engine.flows import timers
from engine.store.models import Instance, StartSchedule

LAUNCH = {
    "plan_year": 2027,
    "departments": ["tech", "ops", "hr"],
    "needs_deadline": "2026-12-15",
    "notice": "请依据《岗位工作人员任职标准》识别本部门2027年度培训需求",
}
HEADS = {"tech": "tech_head", "ops": "ops_head", "hr": "hr_head"}
COMPILE = {
    "needs_summary": "三个部门共提出5项需求，合并为4项",
    "plan_items": [
        {
            "course": "ITIL 4 基础",
            "content": "服务管理基础",
            "target": "运维中心工程师",
            "department": "tech",
            "timing": "2027年3月",
            "trainer": "外部讲师",
            "kind": "internal",
            "budget": 8000,
        }
    ],
    "total_budget": 8000,
}
ISSUE = {"issue_date": "2026-12-28", "issued_to": ["tech", "ops", "hr"], "issue_note": "请各部门按计划组织实施"}


def need(dept):
    return {
        "need": {
            "department": dept,
            "basis": f"{dept} 岗位任职标准差距分析",
            "items": [
                {
                    "course": "ITIL 4 基础",
                    "target": "工程师",
                    "headcount": 3,
                    "kind": "internal",
                    "timing": "2027年第一季度",
                }
            ],
        }
    }


def launch(api, starter="hr_trainer", **changes):
    case = api.start("training_annual_plan", starter)
    # One first step, although this year's cycle date (8 October) has already passed.
    assert [t["element_id"] for t in case["tasks"]] == ["launch_needs"]
    api.walk(case["id"], [("launch_needs", starter, {**LAUNCH, **changes})])
    return case


def submit_needs(api, case_id, depts):
    for dept in depts:
        task = next(
            t
            for t in api.case(case_id)["tasks"]
            if t["element_id"] == "submit_needs" and t["state"] == "open" and HEADS[dept] in t["candidate_users"]
        )
        assert task["candidate_users"] == [HEADS[dept]]  # only that department's head
        api.complete(task["id"], HEADS[dept], need(dept))


def test_every_department_submits_then_vp_mr_gm_approve_and_hr_issues(api):
    case = launch(api)
    needs = sorted(
        t["candidate_users"][0]
        for t in api.case(case["id"])["tasks"]
        if t["element_id"] == "submit_needs" and t["state"] == "open"
    )
    assert needs == ["hr_head", "ops_head", "tech_head"]  # one task per department, in parallel
    submit_needs(api, case["id"], ["ops", "hr", "tech"])

    compile_task = api.open_task(case["id"], "hr_head", "compile_plan")
    assert compile_task["candidate_users"] == ["hr_head", "hr_trainer"]
    api.walk(
        case["id"],
        [
            ("compile_plan", "hr_trainer", COMPILE),
            ("vp_review", "vp", {"decision": "approve"}),
            ("mr_review", "mr", {"decision": "approve"}),
            ("gm_approve", "gm", {"decision": "approve", "comment": "批准"}),
            ("issue_plan", "hr_trainer", ISSUE),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    steps = api.completions(case["id"])
    assert steps[0] == ("launch_needs", "hr_trainer", None)
    assert sorted(steps[1:4]) == [
        ("submit_needs", "hr_head", None),
        ("submit_needs", "ops_head", None),
        ("submit_needs", "tech_head", None),
    ]
    assert steps[4:] == [
        ("compile_plan", "hr_trainer", None),
        ("vp_review", "vp", "approve"),
        ("mr_review", "mr", "approve"),
        ("gm_approve", "gm", "approve"),
        ("issue_plan", "hr_trainer", None),
    ]
    # The needs of every department are kept with the case, one record per department.
    assert sorted(n["department"] for n in done["data"]["needs"]) == ["hr", "ops", "tech"]
    assert done["data"]["plan_items"][0]["course"] == "ITIL 4 基础"


def test_only_hr_starts_it_by_hand(api):
    r = api.post("/processes/training_annual_plan/instances", "emp", {"data": {}})
    assert r.status_code == 403 and "hr" in r.json["message"]


@pytest.mark.parametrize(
    "rejecter,element_id,before",
    [
        ("vp", "vp_review", []),
        ("mr", "mr_review", [("vp_review", "vp", {"decision": "approve"})]),
        (
            "gm",
            "gm_approve",
            [("vp_review", "vp", {"decision": "approve"}), ("mr_review", "mr", {"decision": "approve"})],
        ),
    ],
)
def test_rejection_returns_to_hr_to_revise_the_plan(api, rejecter, element_id, before):
    case = launch(api, departments=["ops"])
    submit_needs(api, case["id"], ["ops"])
    api.walk(case["id"], [("compile_plan", "hr_head", COMPILE)] + before)
    task = api.open_task(case["id"], rejecter, element_id)
    api.complete(task["id"], rejecter, {"decision": "reject", "comment": "预算偏高，请调整"})

    back = api.open_task(case["id"], "hr_head", "compile_plan")
    assert back["candidate_users"] == ["hr_head", "hr_trainer"]
    api.walk(
        case["id"],
        [
            ("compile_plan", "hr_head", {**COMPILE, "total_budget": 6000}),
            ("vp_review", "vp", {"decision": "approve"}),
            ("mr_review", "mr", {"decision": "approve"}),
            ("gm_approve", "gm", {"decision": "approve"}),
            ("issue_plan", "hr_head", ISSUE),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed"
    steps = api.completions(case["id"])
    assert (element_id, rejecter, "reject") in steps
    assert [s[0] for s in steps].count("compile_plan") == 2
    assert done["data"]["total_budget"] == 6000


def test_late_departments_are_reminded_then_escalated_to_hr(api, clock):
    case = launch(api, needs_deadline="2026-12-01")
    submit_needs(api, case["id"], ["tech"])
    clock.advance(days=4, hours=23)  # 2026-11-28 08:00: nothing yet
    assert [e for e in api.case(case["id"])["history"] if e["type"] == "notified"] == []
    clock.advance(hours=1, minutes=1)  # 2026-11-28 09:01: three days before the deadline
    notes = [e for e in api.case(case["id"])["history"] if e["type"] == "notified"]
    assert [(n["data"]["kind"], sorted(n["data"]["to"])) for n in notes] == [("reminder", ["hr_head", "ops_head"])]
    assert "2026-12-01" in notes[0]["comment"]

    clock.advance(days=4)  # 2026-12-02 09:01: one day late
    notes = [e for e in api.case(case["id"])["history"] if e["type"] == "notified"]
    assert [(n["data"]["kind"], sorted(n["data"]["to"])) for n in notes[1:]] == [
        ("escalation", ["hr_head", "ops_head"]),  # the late department heads
        ("escalation", ["hr_head", "hr_trainer"]),
    ]  # and 人力资源部, who collects the needs
    # Reminders do not take the task away: the late departments can still submit.
    submit_needs(api, case["id"], ["ops", "hr"])
    assert api.open_task(case["id"], "hr_trainer", "compile_plan")
    assert [e["element_id"] for e in api.case(case["id"])["history"] if e["type"] == "timer_fired"] == [
        "remind_needs",
        "needs_overdue",
    ]


def test_fourth_quarter_timer_starts_the_case_for_hr(api, clock, db):
    # Only what is due for this procedure fires, as the ticker would fire it (every other procedure whose
    # schedule fell due by then would start too).
    with db.session(write=True) as session:
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == "training_annual_plan"))
        due = row.next_due_at
        assert (due.month, due.day, due.hour, due.minute) == (10, 8, 1, 0)  # 8 October, 09:00 Beijing time
        before = session.scalar(select(Instance.id).order_by(Instance.id.desc()).limit(1)) or 0
        clock.set(due.astimezone(UTC))
    timers.fire_due(db, process_key=row.process_key)
    with db.session() as session:
        started = list(
            session.scalars(
                select(Instance).where(Instance.id > before, Instance.process_key == "training_annual_plan")
            )
        )
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == "training_annual_plan"))
        assert row.next_due_at.year == due.year + 1
    assert len(started) == 1
    case = api.case(started[0].id)
    assert case["initiator"] == "system"
    task = api.open_task(case["id"], "hr_head", "launch_needs")
    assert task["candidate_users"] == ["hr_head", "hr_trainer"]
