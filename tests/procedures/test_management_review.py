"""管理评审 (seed 002《管理评审控制程序》3, 4.1–4.8) walked through the API by the demo users."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.flows import timers
from engine.store.models import Instance, StartSchedule

KEY = "management_review"
TRIGGER = {"trigger_reason": "complaints", "trigger_description": "本季度连续被顾客投诉事件响应超时（管理者代表提出）"}
PLAN = {
    **TRIGGER,
    "meeting_date": "2026-12-20",
    "schedule": "09:00 总裁宣布开始；09:15 管理者代表报告；10:00 部门报告；11:00 讨论与结论",
    "meeting_place": "一楼大会议室",
    "attendees": ["gm", "mr", "tech_head", "ops_head", "qg_head"],
    "purpose": "评价管理体系的适宜性、充分性和有效性",
    "scope": "IT服务管理体系覆盖的全部服务和过程",
    "preparation": "各部门部长准备本部门运行情况、问题及建议",
    "input_items": ["system_operation", "complaints", "slm"],
    "departments": ["tech", "ops"],
    "input_deadline": "2026-12-15",
}
APPROVE = {"decision": "approve"}
ISSUE_PLAN = {"issued_to": ["tech", "ops", "qg"]}
MATERIALS = {
    "inputs_summary": "服务方针适宜；过程绩效基本达标",
    "audit_results": "2026年内审发现一般不合格2项",
    "capa_status": "上年纠正措施均已关闭",
    "incident_status": "重大事件1起，已完成问题分析",
    "last_review_followup": "上次评审输出已落实",
    "slm_results": "12个月内服务级别达成率98.5%",
    "agenda": "一、开幕；二、管理者代表报告；三、部门报告；四、讨论；五、结论",
}
MEETING = {
    "held_on": "2026-12-20",
    "held_at": "一楼大会议室",
    "chair": "gm",
    "signed_in": ["gm", "mr", "tech_head", "ops_head", "qg_head"],
    "mr_report": "体系运行总体有效",
    "dept_reports": "技术部：变更失败率偏高；运维部：夜间响应超时",
    "discussion": "需加强夜间值班和变更评审",
    "meeting_conclusion": "体系适宜、充分、基本有效",
}
CA = [
    {
        "description": "夜间值班响应超时，需完善值班制度",
        "department": "ops",
        "severity": "一般",
        "due_date": "2027-01-31",
    },
    {
        "description": "变更失败率偏高，需加强变更评审",
        "department": "tech",
        "severity": "轻微",
        "due_date": "2027-02-28",
    },
]
DOC = [
    {
        "doc_title": "事件和服务请求管理程序",
        "doc_level": "procedure",
        "change_reason": "增加夜间升级规则",
        "department": "ops",
    }
]
REPORT = {
    "report_meeting": "2026-12-20 一楼大会议室；总裁、管理者代表、技术部、运维部、企管部负责人",
    "report_purpose_scope": "评价体系；覆盖全部IT服务",
    "report_summary": "体系运行总体有效，存在两项改进点",
    "ca_actions": CA,
    "doc_changes": DOC,
    "suitability": "suitable",
    "adequacy": "adequate",
    "effectiveness": "partly",
    "report_conclusion": "管理体系适宜、充分，基本有效",
}
ISSUE_REPORT = {"report_recipients": ["gm", "mr", "tech_head", "ops_head", "qg_head"], "report_issued_on": "2026-12-22"}
VERIFY = {"verification": "两项纠正措施已关闭，程序文件已换版发布，验证有效", "verified_on": "2027-03-01"}
EVALUATE = {"decision": "approve", "evaluation": "更改后夜间响应达标"}
ARCHIVE = {"archive_location": "企管部档案柜 QG-2026-MR", "archived_on": "2027-03-05"}


def dept_input(dept):
    return {
        "dept_input": {
            "operation": f"{dept} 按程序运行",
            "objectives": "目标达成",
            "problems": f"{dept} 的主要问题",
            "suggestions": f"{dept} 的建议",
        }
    }


def started_with(child):
    """The payload a case was started with, as its history records it."""
    started = child["history"][0]
    assert started["type"] == "instance_started"
    return started["data"]


def open_tasks(api, case_id):
    return [t for t in api.case(case_id)["tasks"] if t["state"] == "open"]


def notes(api, case_id):
    return [
        (sorted(e["data"]["to"]), e["data"]["kind"]) for e in api.case(case_id)["history"] if e["type"] == "notified"
    ]


def submit_inputs(api, case_id, heads=(("tech_head", "tech"), ("ops_head", "ops"))):
    """Each department head gets one task, for their own department only."""
    for user, dept in heads:
        mine = [
            t for t in open_tasks(api, case_id) if t["element_id"] == "prepare_inputs" and user in t["candidate_users"]
        ]
        assert len(mine) == 1 and mine[0]["candidate_users"] == [user], open_tasks(api, case_id)
        api.complete(mine[0]["id"], user, dept_input(dept))


def started_by_mr(api):
    """4.1.2: the management representative asks for a review; 企管部 drafts the plan."""
    case = api.start(KEY, "mr", TRIGGER)
    [first] = case["tasks"]
    assert first["element_id"] == "draft_plan" and sorted(first["candidate_users"]) == ["qg_head", "qg_staff"]
    return case["id"]


PLAN_APPROVED = [
    ("draft_plan", "qg_staff", PLAN),
    ("mr_review_plan", "mr", APPROVE),
    ("gm_approve_plan", "gm", APPROVE),
]
FROM_ISSUE = [
    ("issue_plan", "qg_head", ISSUE_PLAN),
    "inputs",
    ("collect_materials", "qg_staff", MATERIALS),
    ("mr_confirm_materials", "mr", APPROVE),
    ("hold_meeting", "qg_staff", MEETING),
    ("draft_report", "qg_staff", REPORT),
    ("gm_approve_report", "gm", APPROVE),
    ("issue_report", "qg_staff", ISSUE_REPORT),
    ("verify_actions", "qg_head", VERIFY),
    ("mr_evaluate", "mr", EVALUATE),
    ("archive", "qg_staff", ARCHIVE),
]
ALL_STEPS = PLAN_APPROVED + FROM_ISSUE


def run(api, case_id, steps):
    for step in steps:
        if step == "inputs":
            submit_inputs(api, case_id)
        else:
            api.walk(case_id, [step])


def test_triggered_review_from_plan_to_archive_starts_the_improvement_cases(api, clock):
    case_id = started_by_mr(api)
    run(api, case_id, PLAN_APPROVED + FROM_ISSUE[:1])
    data = api.case(case_id)["data"]
    assert (data["plan_issued_on"], data["notice_days"]) == ("2026-11-23", 27)  # ≥ 10 days before the meeting
    run(api, case_id, FROM_ISSUE[1:8])  # … up to the issued report

    body = api.case(case_id)
    data = body["data"]
    assert re.fullmatch(r"GLPS-2026-\d{2,}", data["report_no"])
    assert data["dept_inputs"]["ops"]["problems"] == "ops 的主要问题"  # kept per department
    assert data["dept_inputs"]["tech"]["problems"] == "tech 的主要问题"
    sign_in = next(e for e in body["history"] if e["element_id"] == "hold_meeting")["data"]
    assert sign_in["signed_in"] == MEETING["signed_in"]  # 《会议签到表》 kept as the record

    children = api.children(case_id)
    assert [c["process_key"] for c in children] == ["corrective_action", "corrective_action", "document_change"]
    assert all(c["parent_instance_id"] == case_id for c in children)
    payloads = [started_with(c) for c in children]
    actions = sorted(
        (p["department"], p["severity"], p["source"], p["source_no"], p["nonconformity"]) for p in payloads[:2]
    )
    assert actions == [
        ("ops", "一般", "management_review", data["report_no"], CA[0]["description"]),
        ("tech", "轻微", "management_review", data["report_no"], CA[1]["description"]),
    ]
    doc = payloads[2]
    assert (doc["doc_title"], doc["doc_level"], doc["department"]) == ("事件和服务请求管理程序", "procedure", "ops")
    assert doc["change_reason"] == f"管理评审（{data['report_no']}）：增加夜间升级规则"
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["verify_actions"]

    run(api, case_id, FROM_ISSUE[8:])
    done = api.case(case_id)
    assert done["status"] == "completed", done["error"]
    assert api.completions(case_id) == [
        ("draft_plan", "qg_staff", None),
        ("mr_review_plan", "mr", "approve"),
        ("gm_approve_plan", "gm", "approve"),
        ("issue_plan", "qg_head", None),
        ("prepare_inputs", "tech_head", None),
        ("prepare_inputs", "ops_head", None),
        ("collect_materials", "qg_staff", None),
        ("mr_confirm_materials", "mr", "approve"),
        ("hold_meeting", "qg_staff", None),
        ("draft_report", "qg_staff", None),
        ("gm_approve_report", "gm", "approve"),
        ("issue_report", "qg_staff", None),
        ("verify_actions", "qg_head", None),
        ("mr_evaluate", "mr", "approve"),
        ("archive", "qg_staff", None),
    ]


def test_the_improvement_cases_are_raised_in_the_name_of_the_qg_person_who_issued_the_report(api, clock):
    case_id = started_by_mr(api)
    at = next(i for i, s in enumerate(ALL_STEPS) if s != "inputs" and s[0] == "verify_actions")
    run(api, case_id, ALL_STEPS[:at])
    assert {c["history"][0]["actor"] for c in api.children(case_id)} == {"qg_staff"}


def started_by_the_scheduler(db, clock):
    """Move the engine clock to the next yearly occurrence and let the scheduler tick."""
    with db.session() as session:
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == KEY))
        assert row.expression == "R/2027-01-11T09:00:00+08:00/P1Y"
        due = row.next_due_at
        before = session.scalar(select(Instance.id).order_by(Instance.id.desc()).limit(1)) or 0
    clock.set(due + timedelta(minutes=1))
    timers.fire_due(db)
    with db.session() as session:
        started = list(session.scalars(select(Instance.id).where(Instance.id > before, Instance.process_key == KEY)))
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == KEY))
        assert row.next_due_at.year == due.year + 1  # at most 12 months apart
    assert len(started) == 1
    return started[0]


def test_every_year_the_scheduler_starts_it_with_the_plan_for_qg(api, clock, db):
    case_id = started_by_the_scheduler(db, clock)
    case = api.case(case_id)
    assert case["history"][0]["actor"] == "system"
    assert "trigger_reason" not in case["data"]  # 企管部 records the reason (年度评审) in the plan
    tasks = open_tasks(api, case_id)
    assert {t["element_id"] for t in tasks} == {"draft_plan"}
    assert all(sorted(t["candidate_users"]) == ["qg_head", "qg_staff"] for t in tasks)  # 企管部, not the system user


def test_the_scheduled_case_offers_the_plan_once(api, clock, db):
    case_id = started_by_the_scheduler(db, clock)
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["draft_plan"]


def test_only_the_president_the_management_representative_and_qg_start_it_by_hand(api, clock):
    r = api.post(f"/processes/{KEY}/instances", "emp", {"data": {}})
    assert r.status_code == 403 and "mgmt_rep" in r.json["message"]
    r = api.post(f"/processes/{KEY}/instances", "tech_head", {"data": {}})
    assert r.status_code == 403
    case = api.start(KEY, "gm", {"trigger_reason": "gm_decision"})
    assert case["tasks"][0]["element_id"] == "draft_plan"
    assert api.case(case["id"])["data"]["trigger_reason"] == "gm_decision"


@pytest.mark.parametrize(
    "rejecter,element_id,fixer,fix_step",
    [
        ("mr", "mr_review_plan", "qg_staff", "draft_plan"),
        ("gm", "gm_approve_plan", "qg_staff", "draft_plan"),
        ("mr", "mr_confirm_materials", "qg_staff", "collect_materials"),
        ("gm", "gm_approve_report", "qg_staff", "draft_report"),
        ("mr", "mr_evaluate", "qg_head", "verify_actions"),
    ],
)
def test_a_rejection_returns_to_the_step_that_fixes_it(api, clock, rejecter, element_id, fixer, fix_step):
    case_id = started_by_mr(api)
    at = next(i for i, s in enumerate(ALL_STEPS) if s != "inputs" and s[0] == element_id)
    run(api, case_id, ALL_STEPS[:at])

    task = api.open_task(case_id, rejecter, element_id)
    r = api.post(f"/tasks/{task['id']}/complete", rejecter, {"data": {**ALL_STEPS[at][2], "decision": "reject"}})
    assert r.status_code == 400 and "comment" in r.json["errors"]  # a rejection needs its reason
    api.complete(task["id"], rejecter, {**ALL_STEPS[at][2], "decision": "reject", "comment": "请补充"})

    [back] = open_tasks(api, case_id)
    assert back["element_id"] == fix_step and fixer in back["candidate_users"]
    again = next(i for i, s in enumerate(ALL_STEPS) if s != "inputs" and s[0] == fix_step)
    run(api, case_id, ALL_STEPS[again:])
    assert api.case(case_id)["status"] == "completed"
    steps = api.completions(case_id)
    assert (element_id, rejecter, "reject") in steps
    assert [s[0] for s in steps].count(fix_step) == 2
    assert [s[0] for s in steps].count(element_id) == 2
    rejection = next(e for e in api.case(case_id)["history"] if e["decision"] == "reject")
    assert rejection["comment"] == "请补充"


def test_a_plan_issued_less_than_10_days_ahead_goes_back_for_a_new_meeting_date(api, clock):
    case_id = started_by_mr(api)
    run(
        api,
        case_id,
        [
            ("draft_plan", "qg_staff", {**PLAN, "meeting_date": "2026-12-01", "input_deadline": "2026-11-28"}),
            ("mr_review_plan", "mr", APPROVE),
            ("gm_approve_plan", "gm", APPROVE),
            ("issue_plan", "qg_staff", ISSUE_PLAN),
        ],
    )
    assert api.case(case_id)["data"]["notice_days"] == 8
    [back] = open_tasks(api, case_id)
    assert back["element_id"] == "draft_plan"  # no department is asked for inputs yet
    run(api, case_id, PLAN_APPROVED + [("issue_plan", "qg_staff", ISSUE_PLAN)])
    assert sorted(t["candidate_users"][0] for t in open_tasks(api, case_id)) == ["ops_head", "tech_head"]
    assert [s[0] for s in api.completions(case_id)].count("gm_approve_plan") == 2  # the new date is approved again


def test_plan_not_issued_is_reminded_then_escalated_to_the_management_representative(api, clock):
    case_id = started_by_mr(api)
    run(api, case_id, PLAN_APPROVED)  # meeting 2026-12-20: issue by 2026-12-10
    clock.advance(days=14)  # 12-07
    assert notes(api, case_id) == []
    clock.advance(days=1, minutes=1)  # 12-08 09:01: 12 days before the meeting
    assert notes(api, case_id) == [(["qg_head", "qg_staff"], "reminder")]
    clock.advance(days=2, hours=14)  # 12-10 23:01: still on time
    assert len(notes(api, case_id)) == 1
    clock.advance(hours=1)  # 12-11 00:01: fewer than 10 days remain
    assert notes(api, case_id) == [(["qg_head", "qg_staff"], "reminder"), (["mr"], "escalation")]
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["issue_plan"]  # still 企管部's to do
    api.walk(case_id, [("issue_plan", "qg_staff", ISSUE_PLAN)])
    assert api.case(case_id)["data"]["notice_days"] == 9
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["draft_plan"]


def test_departments_late_with_their_inputs_are_reminded_and_escalated(api, clock):
    case_id = started_by_mr(api)
    run(api, case_id, PLAN_APPROVED + [("issue_plan", "qg_staff", ISSUE_PLAN)])  # inputs due 2026-12-15
    submit_inputs(api, case_id, heads=[("tech_head", "tech")])
    clock.advance(days=19)  # 12-12
    assert notes(api, case_id) == []
    clock.advance(days=1, minutes=1)  # 12-13 09:01: two days before the deadline
    assert notes(api, case_id) == [(["ops_head"], "reminder")]  # only the department still owing
    clock.advance(days=3)  # 12-16: overdue
    assert notes(api, case_id)[1] == (["mr"], "escalation")
    submit_inputs(api, case_id, heads=[("ops_head", "ops")])
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["collect_materials"]


def test_verification_is_reminded_every_30_days_until_qg_verifies(api, clock):
    case_id = started_by_mr(api)
    at = ALL_STEPS.index(("verify_actions", "qg_head", VERIFY))
    run(api, case_id, ALL_STEPS[:at])
    clock.advance(days=30, minutes=1)
    assert notes(api, case_id) == [(["qg_head", "qg_staff"], "reminder")]
    clock.advance(days=30)
    assert len(notes(api, case_id)) == 2
    run(api, case_id, ALL_STEPS[at:])
    assert api.case(case_id)["status"] == "completed"
    clock.advance(days=60)
    assert len(notes(api, case_id)) == 2  # no reminder after the verification


def test_a_review_without_improvement_actions_goes_straight_to_archiving(api, clock):
    case_id = started_by_mr(api)
    no_actions = {**REPORT, "ca_actions": [], "doc_changes": []}
    steps = [
        s if s == "inputs" or s[0] != "draft_report" else ("draft_report", "qg_staff", no_actions) for s in ALL_STEPS
    ]
    at = next(i for i, s in enumerate(steps) if s != "inputs" and s[0] == "verify_actions")
    run(api, case_id, steps[:at])
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["archive"]
    assert api.children(case_id) == []
    api.walk(case_id, [("archive", "qg_staff", ARCHIVE)])
    assert api.case(case_id)["status"] == "completed"
