"""制度流程季度自查 (seed 000 第三条2, 第五条, 第八条1, 第六–七条): every quarter 企管部 plans the self-check with a
responsible person per 运维中心 department; each department head checks and reports (in parallel); 企管部 follows
up and reports; 管理者代表 reviews, 公司领导 approves; each violation found starts a 内部整改."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from engine.store.models import Instance, StartSchedule

HEADS = {"tech": "tech_head", "ops": "ops_head", "impl": "impl_head"}
PLAN = {
    "period": "2026年第4季度",
    "plan_content": "检查事件、变更管理制度的培训与执行",
    "check_deadline": "2026-12-10",
    "assignments": [
        {"department": "tech", "tracker": "qg_staff", "focus": "变更管理"},
        {"department": "ops", "tracker": "qg_staff", "focus": "事件管理"},
        {"department": "impl", "tracker": "qg_head", "focus": "发布管理"},
    ],
}


def report(dept):
    return {"report": {"training": f"{dept} 已组织培训", "execution": f"{dept} 执行正常", "assessment": "good"}}


FOLLOW_UP = {
    "department_results": [{"department": d, "conclusion": "good", "remarks": "已询查"} for d in HEADS],
    "summary": "三个部门均已完成自查",
    "rectifications": [],
}


def check(api, case_id, user, data):
    """The parallel department checks share one element id: pick the one offered to `user`."""
    (task,) = [
        t
        for t in api.case(case_id)["tasks"]
        if t["state"] == "open" and t["element_id"] == "dept_check" and user in t["candidate_users"]
    ]
    api.complete(task["id"], user, data)


def start_and_check(api):
    case = api.start("process_selfcheck", "qg_staff")
    api.walk(case["id"], [("plan", "qg_staff", PLAN)])
    body = api.case(case["id"])
    checks = [t for t in body["tasks"] if t["state"] == "open"]
    return case, checks


def test_only_qg_starts_it_by_hand(api):
    r = api.post("/processes/process_selfcheck/instances", "ops_head", {"data": {}})
    assert r.status_code == 403 and "qg" in r.json["message"]


def test_each_department_head_checks_in_parallel_then_qg_reports_to_mr_and_gm(api, clock):
    case, checks = start_and_check(api)
    assert sorted((t["element_id"], tuple(t["candidate_users"])) for t in checks) == [
        ("dept_check", ("impl_head",)),
        ("dept_check", ("ops_head",)),
        ("dept_check", ("tech_head",)),
    ]
    for dept in ("ops", "impl", "tech"):  # any order: parallel
        check(api, case["id"], HEADS[dept], report(dept))
    api.walk(
        case["id"],
        [
            (
                "follow_up",
                "qg_head",
                {**FOLLOW_UP, "rectifications": [{"department": "ops", "violation": "事件升级未按时限执行"}]},
            ),
            ("mr_review", "mr", {"decision": "approve"}),
            ("gm_approve", "gm", {"decision": "approve"}),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert [c[:2] for c in api.completions(case["id"])] == [
        ("plan", "qg_staff"),
        ("dept_check", "ops_head"),
        ("dept_check", "impl_head"),
        ("dept_check", "tech_head"),
        ("follow_up", "qg_head"),
        ("mr_review", "mr"),
        ("gm_approve", "gm"),
    ]
    data = done["data"]
    assert data["selfcheck_no"].startswith("ZC-2026-") and data["period"] == "2026年第4季度"
    assert data["reports"]["ops"]["execution"] == "ops 执行正常"  # each department's report, by department
    assert sorted(data["reports"]) == ["impl", "ops", "tech"]
    (child,) = api.children(case["id"])
    assert child["process_key"] == "rectification" and child["parent_instance_id"] == case["id"]
    assert child["data"] == {
        "department": "ops",
        "violation": "事件升级未按时限执行",
        "source_no": data["selfcheck_no"],
    }
    assert [(t["element_id"], t["candidate_users"]) for t in child["tasks"]] == [("dept_report", ["ops_head"])]


def test_no_violation_starts_no_rectification(api, clock):
    case, checks = start_and_check(api)
    for t in checks:
        api.complete(t["id"], t["candidate_users"][0], report("x"))
    api.walk(
        case["id"],
        [
            ("follow_up", "qg_staff", FOLLOW_UP),
            ("mr_review", "mr", {"decision": "approve"}),
            ("gm_approve", "gm", {"decision": "approve"}),
        ],
    )
    assert api.case(case["id"])["status"] == "completed"
    assert api.children(case["id"]) == []


def test_mr_and_gm_rejections_return_the_report_to_qg(api, clock):
    case, checks = start_and_check(api)
    for t in checks:
        api.complete(t["id"], t["candidate_users"][0], report("x"))
    api.walk(
        case["id"],
        [
            ("follow_up", "qg_staff", FOLLOW_UP),
            ("mr_review", "mr", {"decision": "reject", "comment": "缺少实施部询查记录"}),
            ("follow_up", "qg_staff", {**FOLLOW_UP, "summary": "补充实施部询查记录"}),
            ("mr_review", "mr", {"decision": "approve"}),
            ("gm_approve", "gm", {"decision": "reject", "comment": "请列明改进要求"}),
            ("follow_up", "qg_head", {**FOLLOW_UP, "summary": "补充改进要求"}),
            ("mr_review", "mr", {"decision": "approve"}),
            ("gm_approve", "gm", {"decision": "approve"}),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed"
    assert [c for c in api.completions(case["id"]) if c[0] != "dept_check"] == [
        ("plan", "qg_staff", None),
        ("follow_up", "qg_staff", None),
        ("mr_review", "mr", "reject"),
        ("follow_up", "qg_staff", None),
        ("mr_review", "mr", "approve"),
        ("gm_approve", "gm", "reject"),
        ("follow_up", "qg_head", None),
        ("mr_review", "mr", "approve"),
        ("gm_approve", "gm", "approve"),
    ]
    assert done["data"]["summary"] == "补充改进要求"


def test_late_departments_are_reminded_then_the_trackers_are_told(api, clock):
    case, _checks = start_and_check(api)
    check(api, case["id"], "tech_head", report("tech"))
    clock.advance(days=15, minutes=1)  # 12-08 09:01: two days before 12-10
    notes = [e for e in api.case(case["id"])["history"] if e["type"] == "notified"]
    assert [(sorted(n["data"]["to"]), n["data"]["kind"]) for n in notes] == [
        (["impl_head", "ops_head"], "reminder")
    ]  # only the heads still to report
    clock.advance(days=3)  # 12-11 09:01: a day late
    notes = [e for e in api.case(case["id"])["history"] if e["type"] == "notified"]
    assert [(sorted(n["data"]["to"]), n["data"]["kind"]) for n in notes][1:] == [
        (["qg_head", "qg_staff"], "escalation")
    ]  # the responsible persons named in the plan
    open_checks = [t for t in api.case(case["id"])["tasks"] if t["state"] == "open"]
    assert sorted(t["candidate_users"][0] for t in open_checks) == ["impl_head", "ops_head"]


def test_the_quarterly_schedule_starts_a_case_for_qg(api, clock, db):
    with db.session(write=True) as session:
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == "process_selfcheck"))
        assert row.expression == "R/2027-01-01T09:00:00+08:00/P3M"
        due = row.next_due_at if row.next_due_at.tzinfo else row.next_due_at.replace(tzinfo=UTC)
        assert (due.month, due.day, due.hour) in ((1, 1, 1), (4, 1, 1), (7, 1, 1), (10, 1, 1))  # 09:00 Beijing
        before = session.scalar(select(Instance.id).order_by(Instance.id.desc()).limit(1))
        # Bring only this schedule due now, not the shared clock past other procedures' schedules.
        row.next_due_at = clock.now() + timedelta(minutes=1)
    clock.advance(minutes=2)
    with db.session() as session:
        started = list(
            session.scalars(select(Instance).where(Instance.id > before, Instance.process_key == "process_selfcheck"))
        )
        row = session.scalar(select(StartSchedule).where(StartSchedule.process_key == "process_selfcheck"))
        assert row.next_due_at.replace(tzinfo=UTC) == datetime(2027, 1, 1, 1, 0, tzinfo=UTC)
    assert len(started) == 1
    case = api.case(started[0].id)
    assert case["initiator"] == "system"
    assert [e["type"] for e in case["history"]][:2] == ["instance_started", "timer_fired"]
    (task,) = [t for t in case["tasks"] if t["state"] == "open"]
    assert task["element_id"] == "plan" and sorted(task["candidate_users"]) == ["qg_head", "qg_staff"]
    assert case["data"]["period"] == "2026年第4季度"
