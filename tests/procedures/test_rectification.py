"""内部整改 (seed 000 第十条) walked through the API by the demo users: the department reports the violation,
企管部 drafts the 整改计划, 公司领导 approves, the department head and 企管部 supervise until it is done."""

import re

REPORT = {
    "department": "ops",
    "violation": "变更未经审批即实施",
    "found_date": "2026-11-20",
    "involved_staff": "运维工程师",
    "details": "夜间紧急变更未补录审批",
}
PLAN = {
    "rect_measures": "补录变更审批，组织变更管理流程培训",
    "responsible_person": "ops_head",
    "deadline": "2026-12-10",
    "acceptance_criteria": "培训签到表及补录的变更单",
}
DONE = {"progress": "已补录审批并完成培训", "completion_date": "2026-12-05", "evidence": "培训签到表"}


def test_reported_planned_approved_and_closed(api, clock):
    case = api.start("rectification", "emp")
    assert [(t["element_id"], t["assignee"]) for t in case["tasks"]] == [("report", "emp")]
    api.walk(
        case["id"],
        [
            ("report", "emp", REPORT),
            ("draft_plan", "qg_staff", PLAN),
            ("gm_approve", "gm", {"decision": "approve", "comment": "同意"}),
            ("implement", "ops_head", DONE),  # head of the department named in the report
            ("verify", "qg_head", {"verify_notes": "现场核实签到表", "decision": "approve"}),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert api.completions(case["id"]) == [
        ("report", "emp", None),
        ("draft_plan", "qg_staff", None),
        ("gm_approve", "gm", "approve"),
        ("implement", "ops_head", None),
        ("verify", "qg_head", "approve"),
    ]
    assert re.fullmatch(r"ZG-2026-\d{3}", done["data"]["rect_no"])
    plan = next(e for e in done["history"] if e["element_id"] == "draft_plan")
    assert plan["data"]["deadline"] == "2026-12-10"  # the 整改计划 is kept as the record of the step


def test_the_department_step_is_only_for_that_departments_head(api, clock):
    case = api.start("rectification", "emp")
    api.walk(
        case["id"],
        [
            ("report", "emp", {**REPORT, "department": "impl"}),
            ("draft_plan", "qg_staff", PLAN),
            ("gm_approve", "gm", {"decision": "approve"}),
        ],
    )
    task = api.open_task(case["id"], "impl_head", "implement")
    assert task["candidate_users"] == ["impl_head"]
    r = api.post(f"/tasks/{task['id']}/complete", "ops_head", {"data": DONE})
    assert r.status_code == 403


def test_rejected_plan_goes_back_to_qg_and_unfinished_work_goes_back_to_the_department(api, clock):
    case = api.start("rectification", "emp")
    api.walk(case["id"], [("report", "emp", REPORT), ("draft_plan", "qg_staff", PLAN)])
    task = api.open_task(case["id"], "gm", "gm_approve")
    r = api.post(f"/tasks/{task['id']}/complete", "gm", {"data": {"decision": "reject"}})
    assert r.status_code == 400 and "comment" in r.json["errors"]  # a rejection needs a reason
    api.complete(task["id"], "gm", {"decision": "reject", "comment": "措施不具体，补充培训安排"})
    api.walk(
        case["id"],
        [
            ("draft_plan", "qg_staff", {**PLAN, "rect_measures": "补录审批；12月1日前完成变更管理培训"}),
            ("gm_approve", "gm", {"decision": "approve"}),
            ("implement", "ops_head", {"progress": "已补录审批，培训未开展"}),
            (
                "verify",
                "qg_staff",
                {
                    "verify_notes": "培训未完成",
                    "decision": "reject",
                    "comment": "培训尚未开展",
                    "deadline": "2026-12-20",
                },
            ),
            ("implement", "ops_head", DONE),
            ("verify", "qg_staff", {"verify_notes": "已核实", "decision": "approve"}),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert [c[:2] for c in api.completions(case["id"])] == [
        ("report", "emp"),
        ("draft_plan", "qg_staff"),
        ("gm_approve", "gm"),
        ("draft_plan", "qg_staff"),
        ("gm_approve", "gm"),
        ("implement", "ops_head"),
        ("verify", "qg_staff"),
        ("implement", "ops_head"),
        ("verify", "qg_staff"),
    ]
    assert [c[2] for c in api.completions(case["id"]) if c[0] in ("gm_approve", "verify")] == [
        "reject",
        "approve",
        "reject",
        "approve",
    ]
    assert done["data"]["deadline"] == "2026-12-20"  # 继续整改的期限 replaced the first one


def test_reminder_before_the_deadline_and_escalation_to_qg_after_it(api, clock):
    case = api.start("rectification", "emp")
    api.walk(
        case["id"],
        [("report", "emp", REPORT), ("draft_plan", "qg_staff", PLAN), ("gm_approve", "gm", {"decision": "approve"})],
    )
    clock.advance(days=13)  # 12-06: nothing yet
    assert [e for e in api.case(case["id"])["history"] if e["type"] == "notified"] == []
    clock.advance(days=1, minutes=1)  # 12-07 09:01: three days before 12-10
    notes = [e for e in api.case(case["id"])["history"] if e["type"] == "notified"]
    assert [(n["data"]["to"], n["data"]["kind"]) for n in notes] == [(["ops_head"], "reminder")]
    clock.advance(days=4)  # 12-11 09:01: one day late
    notes = [e for e in api.case(case["id"])["history"] if e["type"] == "notified"]
    assert [(sorted(n["data"]["to"]), n["data"]["kind"]) for n in notes][1:] == [
        (["qg_head", "qg_staff"], "escalation")
    ]
    assert "已超过完成期限 2026-12-10" in notes[1]["comment"]
    api.open_task(case["id"], "ops_head", "implement")  # the department still has to finish it
