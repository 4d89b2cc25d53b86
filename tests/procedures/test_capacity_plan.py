"""容量管理 (seed 001 3.1.11; seed 002 index 《能力管理程序》, text cut off; ISO 20000-1 8.4.3): the half-yearly
capacity plan walked through the API by the demo users."""

import re
from datetime import UTC, datetime

from sqlalchemy import select

from engine.definitions.schedules import Occurrences
from engine.org.service import SYSTEM_USERNAME
from engine.runtime import instances
from engine.store.models import StartSchedule

DRAFT = {
    "plan_period": "2027年上半年",
    "business_forecast": "新增 200 名用户，移动 OA 上线",
    "resources": [
        {"resource": "storage", "current_usage": 78, "threshold": 80, "forecast_usage": 92, "action": "扩容 20TB"},
        {"resource": "network", "current_usage": 45, "threshold": 70, "forecast_usage": 55, "action": "无需调整"},
    ],
    "previous_plan_review": "上期扩容已完成",
    "capacity_risks": "存储将在 3 月超过阈值",
    "optimisation_plan": "一季度采购存储扩容 20TB",
    "budget": 35,
}
ISSUE = {"issue_date": "2026-11-30", "distribution": ["tech", "ops", "impl"], "issue_note": "请各部门按计划执行"}


def test_every_half_year_a_plan_opens_for_the_capacity_manager(api, clock, db):
    with db.session() as session:
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == "capacity_plan"))
        assert row.expression == "R/2027-01-05T09:00:00+08:00/P6M"
        halves = Occurrences.parse(row.expression, row.next_due_at)
        assert [halves.at(k) for k in range(3)] == [
            datetime(2027, 1, 5, 1, tzinfo=UTC),
            datetime(2027, 7, 5, 1, tzinfo=UTC),
            datetime(2028, 1, 5, 1, tzinfo=UTC),
        ]
    with db.session(write=True) as session:
        case_id = instances.start_by_timer(session, process_key="capacity_plan", element_id="start").id
    body = api.case(case_id)
    assert body["initiator"] == SYSTEM_USERNAME
    assert re.fullmatch(r"CAP-2026-\d{2}", body["data"]["plan_no"])
    assert [(t["element_id"], t["candidate_users"]) for t in body["tasks"]] == [("draft", ["tech_eng2"])]
    api.walk(
        case_id,
        [
            ("draft", "tech_eng2", DRAFT),
            ("it_review", "tech_head", {"decision": "approve"}),
            ("gm_approve", "gm", {"decision": "approve"}),
            ("issue", "tech_eng2", ISSUE),
        ],
    )
    assert api.case(case_id)["status"] == "completed"  # leaves no reminder behind


def test_plan_reviewed_by_it_head_approved_by_gm_and_issued(api, clock):
    case = api.start("capacity_plan", "tech_eng2")
    api.walk(
        case["id"],
        [
            ("draft", "tech_eng2", DRAFT),
            ("it_review", "tech_head", {"decision": "approve", "comment": "同意扩容"}),
            ("gm_approve", "gm", {"decision": "approve"}),
            ("issue", "tech_eng2", ISSUE),
        ],
    )
    body = api.case(case["id"])
    assert body["status"] == "completed"
    assert api.completions(case["id"]) == [
        ("draft", "tech_eng2", None),
        ("it_review", "tech_head", "approve"),
        ("gm_approve", "gm", "approve"),
        ("issue", "tech_eng2", None),
    ]
    filed = next(e for e in body["history"] if e["element_id"] == "draft" and e["type"] == "task_completed")
    assert [r["resource"] for r in filed["data"]["resources"]] == ["storage", "network"]  # 容量计划 as filed
    assert body["data"]["distribution"] == ["tech", "ops", "impl"]


def test_either_reviewer_sends_the_plan_back_to_the_capacity_manager(api, clock):
    case = api.start("capacity_plan", "tech_eng2")
    api.walk(case["id"], [("draft", "tech_eng2", DRAFT)])
    task = api.open_task(case["id"], "tech_head", "it_review")
    api.complete(task["id"], "tech_head", {"decision": "reject", "comment": "缺少数据库容量分析"})
    assert api.open_task(case["id"], "tech_eng2", "draft")["candidate_users"] == ["tech_eng2"]
    resources = DRAFT["resources"] + [
        {"resource": "database", "current_usage": 60, "threshold": 75, "forecast_usage": 70}
    ]
    api.walk(
        case["id"],
        [
            ("draft", "tech_eng2", {**DRAFT, "resources": resources}),
            ("it_review", "tech_head", {"decision": "approve"}),
        ],
    )
    task = api.open_task(case["id"], "gm", "gm_approve")
    api.complete(task["id"], "gm", {"decision": "reject", "comment": "预算请分两期"})
    api.walk(
        case["id"],
        [
            ("draft", "tech_eng2", {**DRAFT, "resources": resources, "budget": 20}),
            ("it_review", "tech_head", {"decision": "approve"}),
            ("gm_approve", "gm", {"decision": "approve"}),
            ("issue", "tech_eng2", ISSUE),
        ],
    )
    body = api.case(case["id"])
    assert body["status"] == "completed" and body["data"]["budget"] == 20
    assert [s[:3] for s in api.completions(case["id"])] == [
        ("draft", "tech_eng2", None),
        ("it_review", "tech_head", "reject"),
        ("draft", "tech_eng2", None),
        ("it_review", "tech_head", "approve"),
        ("gm_approve", "gm", "reject"),
        ("draft", "tech_eng2", None),
        ("it_review", "tech_head", "approve"),
        ("gm_approve", "gm", "approve"),
        ("issue", "tech_eng2", None),
    ]


def test_capacity_manager_is_reminded_after_seven_days(api, clock):
    case = api.start("capacity_plan", "tech_eng2")
    clock.advance(days=6, hours=23)
    assert [e for e in api.case(case["id"])["history"] if e["type"] == "notified"] == []
    clock.advance(hours=1, minutes=1)
    body = api.case(case["id"])
    [note] = [e for e in body["history"] if e["type"] == "notified"]
    assert note["data"] == {"to": ["tech_eng2"], "kind": "reminder"}
    assert note["comment"] == f"容量计划 {body['data']['plan_no']} 已启动 7 天，请尽快编制提交"
    api.walk(
        case["id"],
        [
            ("draft", "tech_eng2", DRAFT),
            ("it_review", "tech_head", {"decision": "approve"}),
            ("gm_approve", "gm", {"decision": "approve"}),
            ("issue", "tech_eng2", ISSUE),
        ],
    )
    assert api.case(case["id"])["status"] == "completed"


def test_only_the_capacity_manager_starts_a_plan(api, clock):
    r = api.post("/processes/capacity_plan/instances", "tech_head", {"data": {}})
    assert r.status_code == 403 and "pm_capacity" in r.json["message"]
