"""内部审核 (《内部审核控制程序》4.1–4.6) walked by the demo users: annual plan, audit leader and team,
《内审实施计划》, notice 7–10 days ahead with objections, checklists, meetings, on-site audit per department
(never by an auditor of that department), signed nonconformity reports, report, and one corrective action
per nonconformity. The demo organisation has two auditors: tech_eng (技术部) and hr_trainer (人力资源部)."""

import re
from datetime import UTC, timedelta

import pytest
from sqlalchemy import select

from engine.flows import timers
from engine.store.models import Instance, StartSchedule

# The engine clock starts at 2026-11-23 09:00 (Beijing) in every test.
ANNUAL = {
    "plan_year": 2027,
    "audit_objective": "验证服务管理体系的符合性和有效性",
    "audit_basis": "ISO/IEC 20000-1:2018、服务管理体系文件",
    "prior_results": "2026年度发现不合格项5项，已全部关闭",
    "annual_schedule": [{"month": "2026年12月", "departments": ["tech", "ops", "hr"], "clauses": "4–10"}],
    "full_coverage": True,
}
PLAN = {
    "audit_purpose": "年度内部审核",
    "audit_scope": "运维服务及支撑部门",
    "audit_criteria": "ISO/IEC 20000-1:2018",
    "team": ["tech_eng", "hr_trainer"],
    "division": "tech_eng 审核人力资源部、运维部；hr_trainer 审核技术部",
    "audited_departments": ["tech", "ops", "hr"],
    "audit_date": "2026-12-10",
    "audit_schedule": [{"department": "ops", "clauses": "8.6 事件管理", "time": "12-10 上午"}],
}
NOTICE = {"notice_date": "2026-11-30", "notice_text": "内部审核定于12月10日，有异议请在审核前3天提出"}
HEADS = {"tech": "tech_head", "ops": "ops_head", "hr": "hr_head"}
AUDITORS = {"tech": ["hr_trainer"], "ops": ["tech_eng", "hr_trainer"], "hr": ["tech_eng"]}  # never their own
APPROVE = {"decision": "approve"}
FIRST = {
    "first_meeting_date": "2026-12-10",
    "first_meeting_attendees": "总裁、管理者代表、审核组、受审部门负责人",
    "first_meeting_arrangements": "介绍审核组及日程",
    "closing_meeting_date": "2026-12-11",
}
CLOSING = {
    "team_conclusion": "体系基本符合并有效运行",
    "main_problems": "记录控制不到位",
    "improvement_suggestions": "加强记录检查",
    "closing_meeting_held_on": "2026-12-11",
    "closing_meeting_attendees": "同首次会议",
    "nc_reports_read": True,
}
REPORT = {
    "audit_report": {
        "purpose_scope_basis": "见实施计划",
        "team_members": "tech_eng（组长）、hr_trainer",
        "dates_and_execution": "2026-12-10至11日按计划完成",
        "nc_overview": "见分布表",
        "main_problems": "记录控制不到位",
        "conclusion": "体系运行有效",
        "actions_and_suggestions": "责任部门制定纠正措施",
    }
}
DISTRIBUTE = {
    "distributed_to": ["leadership", "tech", "ops", "hr"],
    "distributed_on": "2026-12-14",
    "archive_location": "企管部内审档案 2026-IA",
}


def open_tasks(api, case_id, element_id):
    return [t for t in api.case(case_id)["tasks"] if t["state"] == "open" and t["element_id"] == element_id]


def task_for(api, case_id, element_id, user):
    return next(t for t in open_tasks(api, case_id, element_id) if user in t["candidate_users"])


def notes(api, case_id):
    return [e for e in api.case(case_id)["history"] if e["type"] == "notified"]


def to_audit_plan(api, leader="tech_eng"):
    case = api.start("internal_audit", "qg_staff")
    api.walk(case["id"], [("draft_annual_plan", "qg_staff", ANNUAL), ("mr_approve_annual_plan", "mr", APPROVE)])
    appoint = api.open_task(case["id"], "mr", "appoint_leader")
    assert appoint["candidate_users"] == ["mr"]
    api.complete(appoint["id"], "mr", {"audit_leader": leader, "appointment_note": "经内审员培训合格"})
    return case


def checklists(api, case_id, depts):
    for dept in depts:
        tasks = [t for t in open_tasks(api, case_id, "prepare_checklist") if t["candidate_users"] == AUDITORS[dept]]
        task = tasks[0]
        api.complete(
            task["id"],
            AUDITORS[dept][0],
            {
                "checklist": {
                    "department": dept,
                    "audit_time": "12-10",
                    "documents": "事件管理程序、值班制度",
                    "items": [{"clause": "8.6", "content": "事件记录是否完整", "method": "查阅记录"}],
                }
            },
        )


def confirm(api, case_id, dept, response="accept", reason=None):
    task = task_for(api, case_id, "confirm_schedule", HEADS[dept])
    assert task["candidate_users"] == [HEADS[dept]]
    api.complete(
        task["id"], HEADS[dept], {"confirmation": {"department": dept, "response": response, "reason": reason}}
    )


def onsite(api, case_id, dept, ncs=()):
    task = next(t for t in open_tasks(api, case_id, "onsite_audit") if t["candidate_users"] == AUDITORS[dept])
    auditor = AUDITORS[dept][-1]
    api.complete(
        task["id"],
        auditor,
        {
            "finding": {
                "department": dept,
                "audit_record": f"{dept}：抽查记录10份",
                "conclusion": "nonconform" if ncs else "conform",
                "nonconformities": [
                    {"description": d, "clause": c, "severity": s, "evidence": "抽查记录"} for d, c, s in ncs
                ],
            }
        },
    )
    return auditor


def sign(api, case_id, dept, decision="approve", comment=None):
    task = task_for(api, case_id, "sign_nc_report", HEADS[dept])
    assert task["candidate_users"] == [HEADS[dept]]  # signed by the audited department
    api.complete(
        task["id"], HEADS[dept], {"nc_signature": {"department": dept, "decision": decision, "comment": comment}}
    )


def test_annual_plan_to_report_and_one_corrective_action_per_nonconformity(api, clock):
    case = to_audit_plan(api)
    plan = api.open_task(case["id"], "tech_eng", "draft_audit_plan")
    assert plan["candidate_users"] == ["tech_eng"]  # the appointed leader
    api.complete(plan["id"], "tech_eng", PLAN)
    # Each auditor is told which department they audit: never their own.
    sent = notes(api, case["id"])
    assert sorted(tuple(n["data"]["to"]) for n in sent) == [("hr_trainer",), ("tech_eng",), ("tech_eng", "hr_trainer")]
    api.walk(case["id"], [("mr_approve_audit_plan", "mr", APPROVE)])

    assert sorted(t["candidate_users"] for t in open_tasks(api, case["id"], "prepare_checklist")) == sorted(
        AUDITORS.values()
    )
    checklists(api, case["id"], ["tech", "ops", "hr"])
    notice = api.open_task(case["id"], "tech_eng", "notify_departments")
    assert notice["candidate_users"] == ["tech_eng"]  # the leader notifies the audited departments (4.1.6)
    sent = len(notes(api, case["id"]))
    clock.advance(days=6, hours=23)  # 11-30 08:00
    assert len(notes(api, case["id"])) == sent
    clock.advance(hours=1, minutes=1)  # 11-30 09:01: ten days before 12-10 the leader is reminded
    assert [(n["data"]["kind"], n["data"]["to"]) for n in notes(api, case["id"])[sent:]] == [("reminder", ["tech_eng"])]
    api.complete(notice["id"], "tech_eng", NOTICE)
    assert sorted(t["candidate_users"][0] for t in open_tasks(api, case["id"], "confirm_schedule")) == [
        "hr_head",
        "ops_head",
        "tech_head",
    ]
    for dept in ["tech", "ops", "hr"]:
        confirm(api, case["id"], dept)

    api.walk(case["id"], [("first_meeting", "tech_eng", FIRST)])
    assert sorted(t["candidate_users"] for t in open_tasks(api, case["id"], "onsite_audit")) == sorted(
        AUDITORS.values()
    )
    onsite(api, case["id"], "tech")
    onsite(api, case["id"], "ops", [("夜班交接记录缺失", "8.6", "一般"), ("知识库更新不及时", "8.6", "观察项")])
    onsite(api, case["id"], "hr", [("内审员培训记录未归档", "7.2", "轻微")])
    assert sorted(t["candidate_users"][0] for t in open_tasks(api, case["id"], "sign_nc_report")) == [
        "hr_head",
        "ops_head",
    ]  # only departments with nonconformities sign
    sign(api, case["id"], "ops")
    sign(api, case["id"], "hr")
    api.walk(
        case["id"],
        [
            ("closing_meeting", "tech_eng", CLOSING),
            ("write_report", "tech_eng", REPORT),
            ("mr_approve_report", "mr", APPROVE),
        ],
    )
    assert api.open_task(case["id"], "qg_head", "distribute_report")["candidate_users"] == ["qg_head", "qg_staff"]
    api.walk(case["id"], [("distribute_report", "qg_staff", DISTRIBUTE)])

    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    steps = [s[0] for s in api.completions(case["id"])]
    assert steps[:4] == ["draft_annual_plan", "mr_approve_annual_plan", "appoint_leader", "draft_audit_plan"]
    assert steps[-5:] == ["sign_nc_report", "closing_meeting", "write_report", "mr_approve_report", "distribute_report"]
    ncs = done["data"]["nonconformities"]
    numbers = [int(n["no"][-3:]) for n in ncs]
    assert all(re.fullmatch(r"NC-2026-\d{3}", n["no"]) for n in ncs) and numbers == list(
        range(numbers[0], numbers[0] + 3)
    )
    report = done["data"]["audit_report"]  # kept for 管理评审 (4.6)
    assert re.fullmatch(r"IA-2026-\d{2}", report["report_no"])
    assert report["nc_summary"] == {
        "count": 3,
        "by_department": {"hr": 1, "ops": 2},
        "by_severity": {"严重": 0, "一般": 1, "轻微": 1, "观察项": 1},
    }
    assert report["conclusion"] == "体系运行有效"

    children = api.children(case["id"])
    assert [c["process_key"] for c in children] == ["corrective_action"] * 3
    assert all(c["parent_instance_id"] == case["id"] for c in children)
    payloads = sorted((c["data"]["department"], c["data"]["severity"], c["data"]["source"]) for c in children)
    assert payloads == [
        ("hr", "轻微", "internal_audit"),
        ("ops", "一般", "internal_audit"),
        ("ops", "观察项", "internal_audit"),
    ]
    for child in children:
        nc = next(n for n in ncs if n["no"] in child["data"]["source_no"])
        assert child["data"]["nonconformity"].startswith(nc["description"])
        assert report["report_no"] in child["data"]["source_no"]
        first = api.open_task(child["id"], HEADS[child["data"]["department"]], "assign_owner")
        assert first["candidate_users"] == [HEADS[child["data"]["department"]]]

    # One of them is followed through: verified by an auditor from outside 人力资源部.
    hr_case = next(c for c in children if c["data"]["department"] == "hr")
    api.walk(
        hr_case["id"],
        [
            ("assign_owner", "hr_head", {"analyst": "hr_trainer"}),
            (
                "analyse_cause",
                "hr_trainer",
                {
                    "action_type": "corrective",
                    "cause_analysis": "归档职责不清",
                    "correction": "补归档",
                    "planned_action": "明确归档责任人",
                    "due_date": "2026-12-31",
                },
            ),
            ("dept_review", "hr_head", APPROVE),
            ("mr_approve", "mr", APPROVE),
            (
                "implement",
                "hr_trainer",
                {"implementation": "已明确", "completed_on": "2026-12-20", "implementation_evidence": "岗位职责修订"},
            ),
        ],
    )
    assert api.open_task(hr_case["id"], "tech_eng", "verify")["candidate_users"] == ["tech_eng"]
    api.walk(hr_case["id"], [("verify", "tech_eng", {**APPROVE, "verification_record": "已验证"})])
    assert api.case(hr_case["id"])["status"] == "completed"


def test_only_qg_starts_it_by_hand(api):
    r = api.post("/processes/internal_audit/instances", "emp", {"data": {}})
    assert r.status_code == 403 and "qg" in r.json["message"]


def test_a_team_with_no_independent_auditor_for_a_department_is_refused(api, clock):
    case = to_audit_plan(api)
    plan = api.open_task(case["id"], "tech_eng", "draft_audit_plan")
    r = api.post(f"/tasks/{plan['id']}/complete", "tech_eng", {"data": {**PLAN, "team": ["tech_eng"]}})
    assert r.status_code == 400 and "职责分离" in r.json["message"]  # nobody but tech_eng could audit 技术部
    assert api.open_task(case["id"], "tech_eng", "draft_audit_plan")["id"] == plan["id"]
    assert notes(api, case["id"]) == []
    api.complete(plan["id"], "tech_eng", {**PLAN, "team": ["tech_eng"], "audited_departments": ["ops", "hr"]})
    assert api.open_task(case["id"], "mr", "mr_approve_audit_plan")


def test_an_audit_date_less_than_seven_days_ahead_goes_back_to_the_leader(api, clock):
    case = to_audit_plan(api)
    api.walk(
        case["id"],
        [
            ("draft_audit_plan", "tech_eng", {**PLAN, "audit_date": "2026-11-28"}),
            ("mr_approve_audit_plan", "mr", APPROVE),
        ],
    )
    back = api.case(case["id"])
    assert [t["element_id"] for t in back["tasks"] if t["state"] == "open"] == ["draft_audit_plan"]
    assert "不足7天" in back["data"]["plan_problem"]
    api.walk(case["id"], [("draft_audit_plan", "tech_eng", PLAN), ("mr_approve_audit_plan", "mr", APPROVE)])
    assert len(open_tasks(api, case["id"], "prepare_checklist")) == 3


@pytest.mark.parametrize(
    "element_id,back_to,author",
    [
        ("mr_approve_annual_plan", "draft_annual_plan", "qg_staff"),
        ("mr_approve_audit_plan", "draft_audit_plan", "tech_eng"),
    ],
)
def test_mr_rejection_returns_to_the_author(api, clock, element_id, back_to, author):
    case = api.start("internal_audit", "qg_head")
    steps = [
        ("draft_annual_plan", "qg_staff", ANNUAL),
        ("mr_approve_annual_plan", "mr", APPROVE),
        ("appoint_leader", "mr", {"audit_leader": "tech_eng"}),
        ("draft_audit_plan", "tech_eng", PLAN),
        ("mr_approve_audit_plan", "mr", APPROVE),
    ]
    position = [s[0] for s in steps].index(element_id)
    api.walk(case["id"], steps[:position])
    task = api.open_task(case["id"], "mr", element_id)
    api.complete(task["id"], "mr", {"decision": "reject", "comment": "请补充上年度审核结果分析"})
    back = api.open_task(case["id"], author, back_to)
    assert author in back["candidate_users"] or back["assignee"] == author
    api.walk(case["id"], steps[[s[0] for s in steps].index(back_to) :])
    assert len(open_tasks(api, case["id"], "prepare_checklist")) == 3
    assert (element_id, "mr", "reject") in api.completions(case["id"])


def test_objections_reminders_disputed_report_and_rejected_report(api, clock):
    case = to_audit_plan(api)
    api.walk(case["id"], [("draft_audit_plan", "tech_eng", PLAN), ("mr_approve_audit_plan", "mr", APPROVE)])
    checklists(api, case["id"], ["tech", "ops", "hr"])
    clock.advance(days=7, minutes=1)  # 11-30 09:01
    api.walk(case["id"], [("notify_departments", "tech_eng", NOTICE)])
    confirm(api, case["id"], "tech")
    confirm(api, case["id"], "hr")
    confirm(api, case["id"], "ops", "object", "12月10日系统割接，建议推迟一周")
    # The objection reaches the leader, who adjusts the plan: approved again, checklists again, notified again.
    api.walk(
        case["id"],
        [("handle_objection", "tech_eng", {"objection_resolution": "adjust", "objection_reply": "推迟到12月17日"})],
    )
    assert "推迟到12月17日" in api.case(case["id"])["data"]["plan_problem"]
    api.walk(
        case["id"],
        [
            ("draft_audit_plan", "tech_eng", {**PLAN, "audit_date": "2026-12-17"}),
            ("mr_approve_audit_plan", "mr", APPROVE),
        ],
    )
    checklists(api, case["id"], ["tech", "ops", "hr"])
    before = len(notes(api, case["id"]))
    clock.advance(days=7)  # 12-07 09:01: ten days before 12-17, the leader is reminded to notify
    clock.advance(days=3)  # 12-10 09:01: seven days before and still not notified: escalated to 管理者代表
    assert [(n["data"]["kind"], n["data"]["to"]) for n in notes(api, case["id"])[before:]] == [
        ("reminder", ["tech_eng"]),
        ("escalation", ["mr"]),
    ]
    api.walk(case["id"], [("notify_departments", "tech_eng", {**NOTICE, "notice_date": "2026-12-10"})])
    confirm(api, case["id"], "hr")
    before = len(notes(api, case["id"]))
    clock.advance(days=3)  # 12-13 09:01: four days before, two departments have not answered
    reminder = notes(api, case["id"])[before:]
    assert [(n["data"]["kind"], sorted(n["data"]["to"])) for n in reminder] == [("reminder", ["ops_head", "tech_head"])]
    clock.advance(days=1)  # 12-14 09:01: the objection period is over: the leader is told
    late = notes(api, case["id"])[before + 1 :]
    assert [(n["data"]["kind"], n["data"]["to"]) for n in late] == [("escalation", ["tech_eng"])]
    confirm(api, case["id"], "tech")
    confirm(api, case["id"], "ops", "object", "仍希望推迟")
    api.walk(
        case["id"],
        [
            (
                "handle_objection",
                "tech_eng",
                {"objection_resolution": "keep", "objection_reply": "异议已超过审核前3天的期限，维持原计划"},
            ),
            ("first_meeting", "tech_eng", {**FIRST, "first_meeting_date": "2026-12-17"}),
        ],
    )
    onsite(api, case["id"], "tech")
    onsite(api, case["id"], "ops")
    onsite(api, case["id"], "hr", [("培训记录未归档", "7.2", "一般")])
    # The department disputes the finding: the leader reviews it and the department signs again.
    sign(api, case["id"], "hr", "reject", "记录已归档于纸质档案")
    api.walk(
        case["id"],
        [
            (
                "resolve_disputes",
                "tech_eng",
                {
                    "dispute_resolution": "纸质档案已归档，电子档案缺失，降为观察项",
                    "nonconformities": [
                        {
                            "department": "hr",
                            "description": "培训记录电子档案缺失",
                            "clause": "7.2",
                            "severity": "观察项",
                            "evidence": "电子档案系统",
                        }
                    ],
                },
            )
        ],
    )
    sign(api, case["id"], "hr")
    api.walk(case["id"], [("closing_meeting", "tech_eng", CLOSING), ("write_report", "tech_eng", REPORT)])
    task = api.open_task(case["id"], "mr", "mr_approve_report")
    api.complete(task["id"], "mr", {"decision": "reject", "comment": "请补充纠正措施要求"})
    api.walk(
        case["id"],
        [
            ("write_report", "tech_eng", REPORT),
            ("mr_approve_report", "mr", APPROVE),
            ("distribute_report", "qg_head", DISTRIBUTE),
        ],
    )

    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    steps = api.completions(case["id"])
    names = [s[0] for s in steps]
    assert names.count("draft_audit_plan") == 2 and names.count("prepare_checklist") == 6
    assert names.count("notify_departments") == 2
    assert names.count("handle_objection") == 2 and names.count("write_report") == 2
    assert [s for s in steps if s[0] == "sign_nc_report"] == [("sign_nc_report", "hr_head", None)] * 2
    signatures = [
        e["data"]["nc_signature"]["decision"]
        for e in done["history"]
        if e["type"] == "task_completed" and e["element_id"] == "sign_nc_report"
    ]
    assert signatures == ["reject", "approve"]
    assert ("mr_approve_report", "mr", "reject") in steps
    assert done["data"]["audit_report"]["nc_summary"]["by_severity"]["观察项"] == 1
    [child] = api.children(case["id"])
    assert (child["data"]["department"], child["data"]["severity"]) == ("hr", "观察项")
    assert child["data"]["nonconformity"].startswith("培训记录电子档案缺失")


def _start_by_schedule(api, clock, db, late_by):
    """Fire what is due for this procedure only, as the ticker does (every other procedure's schedule due by
    then is not this test's business)."""
    with db.session(write=True) as session:
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == "internal_audit"))
        due = row.next_due_at
        assert (due.month, due.day, due.hour, due.minute) == (12, 1, 1, 0)  # 1 December, 09:00 Beijing time
        before = session.scalar(select(Instance.id).order_by(Instance.id.desc()).limit(1)) or 0
        clock.set(due.astimezone(UTC) + late_by)
    timers.fire_due(db, process_key=row.process_key)
    with db.session() as session:
        started = list(
            session.scalars(select(Instance).where(Instance.id > before, Instance.process_key == "internal_audit"))
        )
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == "internal_audit"))
        assert row.next_due_at.year == due.year + 1
    assert len(started) == 1
    return api.case(started[0].id)


def test_every_december_the_timer_starts_it_for_qg(api, clock, db):
    case = _start_by_schedule(api, clock, db, timedelta(0))
    assert case["initiator"] == "system"
    task = api.open_task(case["id"], "qg_staff", "draft_annual_plan")
    assert task["candidate_users"] == ["qg_head", "qg_staff"]


def test_next_years_timer_start_opens_one_first_task(api, clock, db):
    _start_by_schedule(api, clock, db, timedelta(0))
    case = _start_by_schedule(api, clock, db, timedelta(seconds=5))  # a year later; the ticker runs every 5 s
    assert [t["element_id"] for t in case["tasks"] if t["state"] == "open"] == ["draft_annual_plan"]
