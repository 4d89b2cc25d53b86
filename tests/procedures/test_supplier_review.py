"""供应商管理 (seed 001 3.1.15; seed 002 index 《供应商管理程序》, text cut off; ISO 20000-1 8.3.4): the yearly
contract and performance review walked through the API by the demo users."""

import re
from datetime import UTC, datetime

from sqlalchemy import select

from engine.definitions.schedules import Occurrences
from engine.org.service import SYSTEM_USERNAME
from engine.runtime import instances
from engine.store.models import StartSchedule

SUPPLIER = {
    "supplier_name": "华信网络",
    "contract_no": "HT-2025-008",
    "service_scope": "网络设备维保",
    "contract_end": "2027-01-31",
    "contract_manager": "ops_head",
    "sla_achievement": 96.5,
    "quality_score": 85,
    "response_score": 78,
    "rating": "B",
    "issues": "夜间响应偏慢",
    "renewal": "renew_with_improvement",
    "improvement_actions": "夜间响应 30 分钟内，2027-03 前落实",
}
REVIEW = {
    "review_year": 2026,
    "suppliers": [
        SUPPLIER,
        {
            **SUPPLIER,
            "supplier_name": "云启软件",
            "contract_no": "HT-2024-003",
            "rating": "D",
            "renewal": "terminate",
            "improvement_actions": "",
        },
    ],
    "review_summary": "2 家供应商，1 家整改后续签，1 家终止",
}
IMPLEMENT = {
    "suppliers_notified": True,
    "contract_actions": "华信续签一年；云启到期终止",
    "supplier_list_updated": True,
}


def test_every_january_a_review_opens_for_the_supplier_manager(api, clock, db):
    with db.session() as session:
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == "supplier_review"))
        assert row.expression == "R/2027-01-10T09:00:00+08:00/P1Y"
        years = Occurrences.parse(row.expression, row.next_due_at)
        assert [years.at(k) for k in range(2)] == [
            datetime(2027, 1, 10, 1, tzinfo=UTC),
            datetime(2028, 1, 10, 1, tzinfo=UTC),
        ]
    with db.session(write=True) as session:
        case_id = instances.start_by_timer(session, process_key="supplier_review", element_id="start").id
    body = api.case(case_id)
    assert body["initiator"] == SYSTEM_USERNAME
    assert re.fullmatch(r"SUP-2026-\d{2}", body["data"]["review_no"])
    assert [(t["element_id"], t["candidate_users"]) for t in body["tasks"]] == [("review", ["office_head"])]


def test_review_approved_by_the_general_manager_then_carried_out(api, clock):
    case = api.start("supplier_review", "office_head")
    api.walk(
        case["id"],
        [
            ("review", "office_head", REVIEW),
            ("gm_approve", "gm", {"decision": "approve", "comment": "同意"}),
            ("implement", "office_head", IMPLEMENT),
        ],
    )
    body = api.case(case["id"])
    assert body["status"] == "completed"
    assert api.completions(case["id"]) == [
        ("review", "office_head", None),
        ("gm_approve", "gm", "approve"),
        ("implement", "office_head", None),
    ]
    filed = next(e for e in body["history"] if e["element_id"] == "review" and e["type"] == "task_completed")
    assert [(s["supplier_name"], s["renewal"]) for s in filed["data"]["suppliers"]] == [
        ("华信网络", "renew_with_improvement"),
        ("云启软件", "terminate"),
    ]  # 供应商年度评审表 as filed


def test_general_manager_sends_the_review_back(api, clock):
    case = api.start("supplier_review", "office_head")
    api.walk(case["id"], [("review", "office_head", REVIEW)])
    task = api.open_task(case["id"], "gm", "gm_approve")
    assert task["candidate_users"] == ["gm"]
    r = api.post(f"/tasks/{task['id']}/complete", "gm", {"data": {"decision": "reject"}})
    assert r.status_code == 400 and "comment" in r.json["errors"]
    api.complete(task["id"], "gm", {"decision": "reject", "comment": "云启终止后的替代供应商未说明"})
    back = api.open_task(case["id"], "office_head", "review")
    assert back["candidate_users"] == ["office_head"]
    api.walk(
        case["id"],
        [
            ("review", "office_head", {**REVIEW, "review_summary": "云启终止，由华信临时接管，2027-02 前招标"}),
            ("gm_approve", "gm", {"decision": "approve"}),
            ("implement", "office_head", IMPLEMENT),
        ],
    )
    assert api.case(case["id"])["status"] == "completed"
    assert [s[:3] for s in api.completions(case["id"])] == [
        ("review", "office_head", None),
        ("gm_approve", "gm", "reject"),
        ("review", "office_head", None),
        ("gm_approve", "gm", "approve"),
        ("implement", "office_head", None),
    ]


def test_only_the_supplier_manager_starts_a_review(api, clock):
    r = api.post("/processes/supplier_review/instances", "sales", {"data": {}})
    assert r.status_code == 403 and "pm_supplier" in r.json["message"]
