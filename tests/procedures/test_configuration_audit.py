"""配置管理 (seed 001 3.1.7 r; seed 002 index 《配置管理程序》, text cut off; ISO 20000-1 8.2.6): the quarterly
CI audit walked through the API by the demo users."""

import re
from datetime import UTC, datetime

from sqlalchemy import select

from engine.definitions.schedules import Occurrences
from engine.org.service import SYSTEM_USERNAME
from engine.runtime import instances
from engine.store.models import StartSchedule

PLAN = {
    "audit_period": "2026年第4季度",
    "audit_scope": ["hardware", "application"],
    "audit_method": "physical",
    "audit_date": "2026-11-24",
    "audit_basis": "CMDB 基线 2026-10",
}
D1 = {
    "ci_id": "SRV-0012",
    "ci_name": "财务数据库服务器",
    "discrepancy_type": "mismatch",
    "description": "内存 64G，CMDB 登记 32G",
    "owner": "ops_head",
}
D2 = {
    "ci_id": "APP-0031",
    "ci_name": "OA 系统",
    "discrepancy_type": "unregistered",
    "description": "新增的移动端未登记",
    "owner": "impl_head",
}
D3 = {
    "ci_id": "SRV-0020",
    "ci_name": "备份服务器",
    "discrepancy_type": "missing",
    "description": "已报废未注销",
    "owner": "ops_head",
}
AUDIT = {"ci_checked": 120, "discrepancies": [D1, D2, D3], "correction_deadline": "2026-11-27"}
REPORT = {
    "cmdb_accuracy": 97.5,
    "audit_summary": "3 项差异已全部整改",
    "improvement_actions": "报废流程增加 CMDB 注销步骤",
}


def fixed(ci_ids):
    return {
        "correction": {
            "ci_ids": ci_ids,
            "actions": "已核对并更新",
            "completed_date": "2026-11-25",
            "cmdb_updated": True,
        }
    }


def correct(api, case_id, user, data):
    [task] = [
        t
        for t in api.case(case_id)["tasks"]
        if t["state"] == "open" and t["element_id"] == "correct" and user in t["candidate_users"]
    ]
    api.complete(task["id"], user, data)


def open_tasks(api, case_id):
    return sorted(
        (t["element_id"], tuple(t["candidate_users"])) for t in api.case(case_id)["tasks"] if t["state"] == "open"
    )


def audited(api, audit=AUDIT):
    case = api.start("configuration_audit", "tech_eng")
    api.walk(case["id"], [("plan_audit", "tech_eng", PLAN), ("audit", "tech_eng", audit)])
    return case["id"]


def test_every_quarter_a_case_opens_for_the_configuration_manager(api, clock, db):
    with db.session() as session:
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == "configuration_audit"))
        assert row.expression == "R/2027-01-01T09:00:00+08:00/P3M"
        quarters = Occurrences.parse(row.expression, row.next_due_at)
        utc = UTC
        assert [quarters.at(k) for k in range(4)] == [
            datetime(2027, 1, 1, 1, tzinfo=utc),
            datetime(2027, 4, 1, 1, tzinfo=utc),
            datetime(2027, 7, 1, 1, tzinfo=utc),
            datetime(2027, 10, 1, 1, tzinfo=utc),
        ]
        assert row.next_due_at in [quarters.at(k) for k in range(12)]
    with db.session(write=True) as session:  # what the scheduler does when the quarter comes
        case_id = instances.start_by_timer(session, process_key="configuration_audit", element_id="start").id
    body = api.case(case_id)
    assert body["initiator"] == SYSTEM_USERNAME
    assert re.fullmatch(r"CFA-2026-\d{2}", body["data"]["audit_no"])
    assert [(t["element_id"], t["candidate_users"]) for t in body["tasks"]] == [("plan_audit", ["tech_eng"])]


def test_only_the_configuration_manager_starts_an_audit_early(api, clock):
    r = api.post("/processes/configuration_audit/instances", "emp", {"data": {}})
    assert r.status_code == 403 and "pm_config" in r.json["message"]
    case = api.start("configuration_audit", "tech_eng")
    assert case["tasks"][0]["element_id"] == "plan_audit"


def test_owners_correct_in_parallel_rework_goes_to_the_named_owner_then_report(api, clock):
    case_id = audited(api)
    assert open_tasks(api, case_id) == [("correct", ("impl_head",)), ("correct", ("ops_head",))]  # one per owner
    correct(api, case_id, "ops_head", fixed("SRV-0012, SRV-0020"))
    correct(api, case_id, "impl_head", {"correction": {**fixed("APP-0031")["correction"], "cmdb_updated": False}})
    task = api.open_task(case_id, "tech_eng", "verify")
    api.complete(
        task["id"],
        "tech_eng",
        {
            "decision": "reject",
            "comment": "APP-0031 未更新 CMDB",
            "rework_owners": ["impl_head"],
            "correction_deadline": "2026-11-30",
        },
    )
    assert open_tasks(api, case_id) == [("correct", ("impl_head",))]  # only the owner who must redo it
    correct(api, case_id, "impl_head", fixed("APP-0031"))
    api.walk(case_id, [("verify", "tech_eng", {"decision": "approve"}), ("report", "tech_eng", REPORT)])
    body = api.case(case_id)
    assert body["status"] == "completed"
    assert body["data"]["discrepancy_count"] == 3
    assert [c["ci_ids"] for c in body["data"]["corrections"]] == ["APP-0031"]  # the rework round
    assert [s[:2] for s in api.completions(case_id)] == [
        ("plan_audit", "tech_eng"),
        ("audit", "tech_eng"),
        ("correct", "ops_head"),
        ("correct", "impl_head"),
        ("verify", "tech_eng"),
        ("correct", "impl_head"),
        ("verify", "tech_eng"),
        ("report", "tech_eng"),
    ]
    filed = next(e for e in body["history"] if e["element_id"] == "audit" and e["type"] == "task_completed")
    assert [d["ci_id"] for d in filed["data"]["discrepancies"]] == ["SRV-0012", "APP-0031", "SRV-0020"]


def test_no_discrepancies_goes_straight_to_the_report(api, clock):
    case_id = audited(api, {"ci_checked": 80, "correction_deadline": "2026-11-27"})
    assert open_tasks(api, case_id) == [("report", ("tech_eng",))]
    api.walk(case_id, [("report", "tech_eng", {**REPORT, "cmdb_accuracy": 100})])
    body = api.case(case_id)
    assert body["status"] == "completed" and body["data"]["discrepancy_count"] == 0


def test_reminder_before_the_deadline_and_escalation_to_it_head_after(api, clock):
    case_id = audited(api, {**AUDIT, "discrepancies": [D1, D2]})  # deadline 2026-11-27
    correct(api, case_id, "ops_head", fixed("SRV-0012"))

    def sent():
        return [
            (e["data"]["to"], e["data"]["kind"], e["comment"])
            for e in api.case(case_id)["history"]
            if e["type"] == "notified"
        ]

    clock.advance(days=1, hours=23, minutes=59)  # 2026-11-25 08:59
    assert sent() == []
    clock.advance(minutes=2)  # two days before the deadline: whoever has not finished is reminded
    audit_no = api.case(case_id)["data"]["audit_no"]
    assert sent() == [(["impl_head"], "reminder", f"配置审计 {audit_no} 的差异项整改将于 2026-11-27 到期")]
    clock.advance(days=2, hours=9)  # 2026-11-27 18:01
    assert sent()[1] == (["tech_head"], "escalation", f"配置审计 {audit_no} 的差异项整改已逾期（期限 2026-11-27）")
    assert open_tasks(api, case_id) == [("correct", ("impl_head",))]  # not taken away from the owner
    correct(api, case_id, "impl_head", fixed("APP-0031"))
    api.walk(case_id, [("verify", "tech_eng", {"decision": "approve"}), ("report", "tech_eng", REPORT)])
    assert api.case(case_id)["status"] == "completed"
    assert len(sent()) == 2
