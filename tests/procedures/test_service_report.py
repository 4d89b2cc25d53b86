"""服务报告 (seed 002《服务报告管理程序》3–4.5; 《服务级别管理程序》5.5) walked through the API by the demo users."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine.flows import timers
from engine.store.models import Instance, StartSchedule

KEY = "service_report"
DRAFT = {
    "customer": "某银行信息科技部",
    "sla_no": "SLA-2026-001",
    "period_start": "2026-11-01",
    "period_end": "2026-11-30",
    "report_types": ["reactive", "planned"],
    "performance": "可用性目标 99.9%，实际 99.95%",
    "availability": 99.95,
    "nonconformities": "无违反SLA",
    "incident_count": 42,
    "problem_count": 3,
    "change_count": 7,
    "request_count": 120,
    "workload": "月末为高峰",
    "trends": "事件量环比下降 10%",
    "planned_workload": "12 月两次版本发布",
    "findings": "存储告警偏多，建议扩容",
    "recipient": "客户王经理",
}
APPROVE = {"decision": "approve", "corrective_actions": []}
SEND = {
    "sent_on": "2026-12-05",
    "sent_to": "客户王经理",
    "send_channel": "email",
    "communicated_to": "市场营销部、运维部",
}


def open_tasks(api, case_id):
    return [t for t in api.case(case_id)["tasks"] if t["state"] == "open"]


def notes(api, case_id):
    return [(e["data"]["to"], e["data"]["kind"]) for e in api.case(case_id)["history"] if e["type"] == "notified"]


def started_by_hand(api, user="pm"):
    case = api.start(KEY, user)
    [first] = case["tasks"]
    assert (first["element_id"], first["candidate_users"]) == ("draft_report", ["pm"])  # 项目经理 drafts
    return case["id"]


def started_by_the_scheduler(db, clock):
    with db.session() as session:
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == KEY))
        assert row.expression == "R/2026-12-01T09:00:00+08:00/P1M"
        due = row.next_due_at
        before = session.scalar(select(Instance.id).order_by(Instance.id.desc()).limit(1)) or 0
    clock.set(due + timedelta(minutes=1))
    timers.fire_due(db)
    with db.session() as session:
        started = list(session.scalars(select(Instance.id).where(Instance.id > before, Instance.process_key == KEY)))
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == KEY))
        assert row.next_due_at.astimezone(ZoneInfo("Asia/Shanghai")).day == 1  # the 1st of the next month
        assert row.next_due_at > due
    assert len(started) == 1
    return started[0], due.astimezone(ZoneInfo("Asia/Shanghai")).date()


def test_every_month_the_scheduler_asks_the_project_manager_for_last_months_report(api, clock, db):
    case_id, due = started_by_the_scheduler(db, clock)
    assert due.day == 1
    last_month_end = due - timedelta(days=1)
    data = api.case(case_id)["data"]
    assert (data["period_start"], data["period_end"]) == (
        last_month_end.replace(day=1).isoformat(),
        last_month_end.isoformat(),
    )
    tasks = open_tasks(api, case_id)
    assert {t["element_id"] for t in tasks} == {"draft_report"}
    assert all(t["candidate_users"] == ["pm"] for t in tasks)


def test_the_scheduled_case_offers_the_draft_once(api, clock, db):
    case_id, _ = started_by_the_scheduler(db, clock)
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["draft_report"]


def test_drafted_reviewed_numbered_and_sent(api, clock):
    case_id = started_by_hand(api)
    data = api.case(case_id)["data"]
    assert (data["period_start"], data["period_end"]) == ("2026-10-01", "2026-10-31")  # engine clock: 2026-11-23
    api.walk(case_id, [("draft_report", "pm", DRAFT)])
    review = api.open_task(case_id, "dev_head", "review_report")
    assert review["candidate_users"] == ["dev_head"]  # 软件产品研发部经理
    api.walk(case_id, [("review_report", "dev_head", APPROVE)])
    send = api.open_task(case_id, "pm", "send_report")
    assert send["candidate_users"] == ["pm"]
    api.walk(case_id, [("send_report", "pm", SEND)])
    done = api.case(case_id)
    assert done["status"] == "completed", done["error"]
    assert re.fullmatch(r"FWBG-2026-\d{3}", done["data"]["report_no"])
    assert (done["data"]["sent_on"], done["data"]["sent_to"]) == ("2026-12-05", "客户王经理")
    assert api.completions(case_id) == [
        ("draft_report", "pm", None),
        ("review_report", "dev_head", "approve"),
        ("send_report", "pm", None),
    ]
    assert api.children(case_id) == []
    report = next(e for e in done["history"] if e["element_id"] == "draft_report")["data"]
    assert report["incident_count"] == 42 and report["findings"] == "存储告警偏多，建议扩容"  # 《服务报告》 kept


def test_a_rejected_report_goes_back_to_the_project_manager(api, clock):
    case_id = started_by_hand(api)
    api.walk(case_id, [("draft_report", "pm", DRAFT)])
    task = api.open_task(case_id, "dev_head", "review_report")
    r = api.post(f"/tasks/{task['id']}/complete", "dev_head", {"data": {**APPROVE, "decision": "reject"}})
    assert r.status_code == 400 and "comment" in r.json["errors"]
    api.complete(task["id"], "dev_head", {**APPROVE, "decision": "reject", "comment": "缺少与SLA目标的对比图表"})
    [back] = open_tasks(api, case_id)
    assert (back["element_id"], back["candidate_users"]) == ("draft_report", ["pm"])
    assert "report_no" not in api.case(case_id)["data"]  # numbered only when approved
    api.walk(
        case_id,
        [
            ("draft_report", "pm", {**DRAFT, "performance": "见图1：可用性对比"}),
            ("review_report", "dev_head", APPROVE),
            ("send_report", "pm", SEND),
        ],
    )
    assert api.case(case_id)["status"] == "completed"
    assert api.completions(case_id) == [
        ("draft_report", "pm", None),
        ("review_report", "dev_head", "reject"),
        ("draft_report", "pm", None),
        ("review_report", "dev_head", "approve"),
        ("send_report", "pm", None),
    ]


def test_a_late_draft_is_reminded_then_escalated_to_the_dev_manager(api, clock):
    case_id = started_by_hand(api)
    clock.advance(days=4)
    assert notes(api, case_id) == []
    clock.advance(days=1, minutes=1)
    assert notes(api, case_id) == [(["pm"], "reminder")]
    clock.advance(days=5)
    assert notes(api, case_id) == [(["pm"], "reminder"), (["dev_head"], "escalation")]
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["draft_report"]  # still the drafter's


def test_findings_needing_corrective_action_start_corrective_action_cases(api, clock):
    case_id = started_by_hand(api)
    actions = [{"department": "ops", "description": "存储告警频繁，需扩容并完善监控阈值"}]
    api.walk(
        case_id,
        [
            ("draft_report", "pm", DRAFT),
            ("review_report", "dev_head", {"decision": "approve", "corrective_actions": actions}),
        ],
    )
    data = api.case(case_id)["data"]
    [child] = api.children(case_id)
    assert child["process_key"] == "corrective_action" and child["parent_instance_id"] == case_id
    started = child["history"][0]  # the payload the case was started with, as its history records it
    assert started["type"] == "instance_started"
    payload = started["data"]
    assert (payload["department"], payload["source"], payload["source_no"]) == ("ops", "other", data["report_no"])
    assert payload["nonconformity"] == f"服务报告 {data['report_no']}：存储告警频繁，需扩容并完善监控阈值"
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["send_report"]


def test_only_project_managers_and_the_report_process_manager_start_it_by_hand(api, clock):
    r = api.post(f"/processes/{KEY}/instances", "emp", {"data": {}})
    assert r.status_code == 403 and "project_manager" in r.json["message"]
    started_by_hand(api, "tech_eng2")  # pm_report may ask for an extra report; the project manager drafts it
