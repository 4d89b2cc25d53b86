"""服务持续性管理 (seed 002《持续性管理程序》1–5.1.1, cut off; ISO/IEC 20000-1 service continuity)
walked through the API by the demo users."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.flows import timers
from engine.store.models import Instance, StartSchedule

KEY = "continuity"
POLICY = {
    "policy": "确保核心系统在灾难后 4 小时内恢复",
    "continuity_scope": "支持核心业务的IT服务",
    "disaster_types": ["fire", "power", "hardware"],
    "communicated_to": ["tech", "ops", "dev"],
}
RISK_BIA = {
    "risks": [{"threat": "power", "risk_description": "机房大规模断电", "likelihood": "中", "impact": "高"}],
    "bia": [
        {
            "service": "核心系统",
            "business_process": "柜面交易",
            "outage_impact": "交易中断",
            "rto_hours": 4,
            "rpo_hours": 0.5,
            "priority": "1",
        }
    ],
}
PLAN = {
    "plan_version": "V2027",
    "recovery_strategy": "同城灾备切换",
    "recovery_procedures": "1. 宣布灾难 2. 切换 3. 验证",
    "emergency_team": "总指挥：软件产品研发部经理",
    "resources": "灾备机房、应急预算 20 万元",
    "backup_arrangements": "每日全量备份，15 分钟日志同步",
    "drill_date": "2026-12-20",
    "drill_scenario": "主机房断电，切换至灾备机房",
    "drill_participants": ["tech_eng2", "ops_eng", "tech_head"],
}
APPROVE = {"decision": "approve"}
DRILL = {
    "drilled_on": "2026-12-20",
    "drill_run": "主机房断电切换",
    "drill_attendees": ["tech_eng2", "ops_eng", "tech_head"],
    "drill_steps": "切换用时 3 小时",
    "rto_achieved_hours": 3,
    "drill_result": "passed",
    "drill_issues": "联系人名单过期",
}
EFFECTIVE = {"decision": "approve", "drill_evaluation": "满足 RTO 4 小时", "improvements": "更新联系人名单"}

APPROVED = [
    ("define_policy", "tech_eng2", POLICY),
    ("risk_bia", "tech_eng2", RISK_BIA),
    ("draft_plan", "tech_eng2", PLAN),
    ("review_plan", "dev_head", APPROVE),
    ("approve_plan", "gm", APPROVE),
]
ALL = APPROVED + [("conduct_drill", "tech_eng2", DRILL), ("review_drill", "dev_head", EFFECTIVE)]


def open_tasks(api, case_id):
    return [t for t in api.case(case_id)["tasks"] if t["state"] == "open"]


def notes(api, case_id):
    return [
        (sorted(e["data"]["to"]), e["data"]["kind"]) for e in api.case(case_id)["history"] if e["type"] == "notified"
    ]


def started(api):
    case = api.start(KEY, "tech_eng2")
    [first] = case["tasks"]
    assert (first["element_id"], first["candidate_users"]) == ("define_policy", ["tech_eng2"])  # 可持续性流程经理
    return case["id"]


def started_by_the_scheduler(db, clock):
    with db.session() as session:
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == KEY))
        assert row.expression == "R/2027-01-15T09:00:00+08:00/P1Y"
        due = row.next_due_at
        before = session.scalar(select(Instance.id).order_by(Instance.id.desc()).limit(1)) or 0
    clock.set(due + timedelta(minutes=1))
    timers.fire_due(db)
    with db.session() as session:
        started_ids = list(
            session.scalars(select(Instance.id).where(Instance.id > before, Instance.process_key == KEY))
        )
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == KEY))
        assert row.next_due_at.year == due.year + 1
    assert len(started_ids) == 1
    return started_ids[0]


def test_every_year_the_scheduler_starts_the_continuity_cycle_for_its_process_manager(api, clock, db):
    case_id = started_by_the_scheduler(db, clock)
    tasks = open_tasks(api, case_id)
    assert {t["element_id"] for t in tasks} == {"define_policy"}
    assert all(t["candidate_users"] == ["tech_eng2"] for t in tasks)


def test_the_scheduled_case_offers_the_policy_step_once(api, clock, db):
    case_id = started_by_the_scheduler(db, clock)
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["define_policy"]


def test_risk_assessment_plan_approval_drill_and_review(api, clock):
    case_id = started(api)
    for element_id, user, data in APPROVED:
        task = api.open_task(case_id, user, element_id)
        assert task["candidate_users"] == [user], task
        api.complete(task["id"], user, data)
    [drill] = open_tasks(api, case_id)
    assert (drill["element_id"], drill["candidate_users"]) == ("conduct_drill", ["tech_eng2"])
    clock.advance(days=19)  # 12-12
    assert notes(api, case_id) == []
    clock.advance(days=1, minutes=1)  # 12-13 09:01: a week before the drill
    assert notes(api, case_id) == [(["ops_eng", "tech_eng2", "tech_head"], "reminder")]  # the participants
    api.walk(case_id, ALL[len(APPROVED) :])
    done = api.case(case_id)
    assert done["status"] == "completed", done["error"]
    assert api.completions(case_id) == [
        ("define_policy", "tech_eng2", None),
        ("risk_bia", "tech_eng2", None),
        ("draft_plan", "tech_eng2", None),
        ("review_plan", "dev_head", "approve"),
        ("approve_plan", "gm", "approve"),
        ("conduct_drill", "tech_eng2", None),
        ("review_drill", "dev_head", "approve"),
    ]
    bia = next(e for e in done["history"] if e["element_id"] == "risk_bia")["data"]["bia"]
    assert bia[0]["rto_hours"] == 4  # the BIA is kept as the record the plan answers
    assert done["data"]["drill_result"] == "passed"
    clock.advance(days=30)
    assert len(notes(api, case_id)) == 1  # no overdue warning once the drill is recorded


def test_a_drill_not_recorded_a_week_after_its_date_is_escalated(api, clock):
    case_id = started(api)
    api.walk(case_id, APPROVED)
    clock.advance(days=34)  # 12-27 09:00
    assert notes(api, case_id) == [(["ops_eng", "tech_eng2", "tech_head"], "reminder")]
    clock.advance(minutes=1)
    assert notes(api, case_id)[1:] == [(["dev_head"], "escalation")]
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["conduct_drill"]


@pytest.mark.parametrize("element_id,user", [("review_plan", "dev_head"), ("approve_plan", "gm")])
def test_a_rejected_plan_goes_back_to_the_process_manager(api, clock, element_id, user):
    case_id = started(api)
    at = [s[0] for s in ALL].index(element_id)
    api.walk(case_id, ALL[:at])
    task = api.open_task(case_id, user, element_id)
    r = api.post(f"/tasks/{task['id']}/complete", user, {"data": {"decision": "reject"}})
    assert r.status_code == 400 and "comment" in r.json["errors"]
    api.complete(task["id"], user, {"decision": "reject", "comment": "恢复资源不足"})
    [back] = open_tasks(api, case_id)
    assert (back["element_id"], back["candidate_users"]) == ("draft_plan", ["tech_eng2"])
    api.walk(case_id, ALL[2:])
    assert api.case(case_id)["status"] == "completed"
    steps = [s[0] for s in api.completions(case_id)]
    assert steps.count("draft_plan") == 2 and steps.count(element_id) == 2


def test_an_ineffective_drill_revises_the_plan_and_drills_again(api, clock):
    case_id = started(api)
    api.walk(
        case_id,
        APPROVED
        + [
            ("conduct_drill", "tech_eng2", {**DRILL, "drill_result": "failed", "rto_achieved_hours": 9}),
            (
                "review_drill",
                "dev_head",
                {"decision": "reject", "comment": "RTO 超出 4 小时", "drill_evaluation": "未达到"},
            ),
        ],
    )
    [back] = open_tasks(api, case_id)
    assert (back["element_id"], back["candidate_users"]) == ("draft_plan", ["tech_eng2"])
    revised = {**PLAN, "plan_version": "V2027.1", "drill_date": "2027-01-20"}
    api.walk(
        case_id,
        [("draft_plan", "tech_eng2", revised), ("review_plan", "dev_head", APPROVE), ("approve_plan", "gm", APPROVE)],
    )
    clock.advance(days=50)  # 2027-01-12: the first drill date has no reminder left
    assert notes(api, case_id) == []
    clock.advance(days=1, minutes=1)  # 2027-01-13 09:01: a week before the new drill date
    assert notes(api, case_id) == [(["ops_eng", "tech_eng2", "tech_head"], "reminder")]
    api.walk(
        case_id,
        [
            ("conduct_drill", "tech_eng2", {**DRILL, "drilled_on": "2027-01-20"}),
            ("review_drill", "dev_head", EFFECTIVE),
        ],
    )
    assert api.case(case_id)["status"] == "completed"
    steps = [s[0] for s in api.completions(case_id)]
    assert steps.count("conduct_drill") == 2 and steps.count("approve_plan") == 2


def test_only_the_continuity_process_manager_starts_it_by_hand(api, clock):
    for user in ("emp", "dev_head", "gm"):
        r = api.post(f"/processes/{KEY}/instances", user, {"data": {}})
        assert r.status_code == 403 and "pm_continuity" in r.json["message"], user
