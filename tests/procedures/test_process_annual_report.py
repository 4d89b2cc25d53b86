"""业务流程管理年度报告 (seed 000 篇2 第十六条, 第六–七条): at year end 企管部 compiles the execution, checks and
changes of all procedures, with the figures drawn from the engine's own records → 管理者代表 审核 → 公司领导 批准."""

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from engine.store.models import Instance, StartSchedule

TEXT = {
    "execution_summary": "各部门按流程执行",
    "check_summary": "四次季度自查、一次实地抽查",
    "change_summary": "事件管理流程变更一次",
    "improvement": "加强变更培训",
}


def test_only_qg_starts_it_by_hand(api):
    r = api.post("/processes/process_annual_report/instances", "emp", {"data": {}})
    assert r.status_code == 403 and "qg" in r.json["message"]


def test_figures_come_from_the_engines_own_records(api, clock):
    before = api.start("process_annual_report", "qg_staff")["data"]
    api.start("process_change", "emp")  # one more 流程新增/变更 case this year
    after = api.start("process_annual_report", "qg_staff")["data"]
    assert after["year"] == 2026 and after["stats"]["year"] == 2026
    assert after["change_cases"] == before["change_cases"] + 1
    assert after["started_total"] == before["started_total"] + 2  # the change and the first report
    row = next(r for r in after["stats"]["processes"] if r["key"] == "process_change")
    assert row["started"] == after["change_cases"] and row["name"] == "流程新增/变更审批"
    assert "流程新增/变更审批（process_change" in after["figures"]


def test_compiled_reviewed_approved_and_numbered(api, clock):
    case = api.start("process_annual_report", "qg_staff")
    assert [(t["element_id"], sorted(t["candidate_users"])) for t in case["tasks"]] == [
        ("compile", ["qg_head", "qg_staff"])
    ]
    api.walk(
        case["id"],
        [
            ("compile", "qg_staff", TEXT),
            ("mr_review", "mr", {"decision": "approve"}),
            ("gm_approve", "gm", {"decision": "approve"}),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert api.completions(case["id"]) == [
        ("compile", "qg_staff", None),
        ("mr_review", "mr", "approve"),
        ("gm_approve", "gm", "approve"),
    ]
    assert re.fullmatch(r"LCBG-2026-\d{2}", done["data"]["report_no"])
    # The figures cannot be typed over: they are shown read-only and refused when submitted.
    other = api.start("process_annual_report", "qg_staff")
    task = api.open_task(other["id"], "qg_staff", "compile")
    r = api.post(f"/tasks/{task['id']}/complete", "qg_staff", {"data": {**TEXT, "change_cases": 99}})
    assert r.status_code == 400 and "change_cases" in r.json["errors"]


def test_rejections_return_the_report_to_qg(api, clock):
    case = api.start("process_annual_report", "qg_staff")
    api.walk(
        case["id"],
        [
            ("compile", "qg_staff", TEXT),
            ("mr_review", "mr", {"decision": "reject", "comment": "补充抽查发现的问题"}),
            ("compile", "qg_staff", {**TEXT, "check_summary": "补充抽查问题"}),
            ("mr_review", "mr", {"decision": "approve"}),
            ("gm_approve", "gm", {"decision": "reject", "comment": "改进建议需明确责任部门"}),
            ("compile", "qg_head", {**TEXT, "improvement": "运维部牵头加强变更培训"}),
            ("mr_review", "mr", {"decision": "approve"}),
            ("gm_approve", "gm", {"decision": "approve"}),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert list(api.completions(case["id"])) == [
        ("compile", "qg_staff", None),
        ("mr_review", "mr", "reject"),
        ("compile", "qg_staff", None),
        ("mr_review", "mr", "approve"),
        ("gm_approve", "gm", "reject"),
        ("compile", "qg_head", None),
        ("mr_review", "mr", "approve"),
        ("gm_approve", "gm", "approve"),
    ]
    assert done["data"]["improvement"] == "运维部牵头加强变更培训"


def test_the_year_end_schedule_starts_the_report_for_qg(api, clock, db):
    with db.session(write=True) as session:
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == "process_annual_report"))
        assert row.expression == "R/2026-12-20T09:00:00+08:00/P1Y"
        before = session.scalar(select(Instance.id).order_by(Instance.id.desc()).limit(1))
        # Bring only this schedule due now, not the shared clock past other procedures' schedules.
        row.next_due_at = clock.now() + timedelta(minutes=1)
    clock.advance(minutes=2)
    with db.session() as session:
        started = list(
            session.scalars(
                select(Instance).where(Instance.id > before, Instance.process_key == "process_annual_report")
            )
        )
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == "process_annual_report"))
        assert row.next_due_at.replace(tzinfo=UTC) == datetime(2026, 12, 20, 1, 0, tzinfo=UTC)
    assert len(started) == 1
    case = api.case(started[0].id)
    assert case["initiator"] == "system" and case["status"] == "running", case["error"]
    (task,) = [t for t in case["tasks"] if t["state"] == "open"]
    assert task["element_id"] == "compile" and sorted(task["candidate_users"]) == ["qg_head", "qg_staff"]
    assert case["data"]["year"] == 2026 and case["data"]["started_total"] >= 1
