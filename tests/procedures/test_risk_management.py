"""服务风险管理 (seed 003 五、服务风险管理) walked through the API by the demo users.

emp reports a risk, the IT head tech_head assesses it and names ops_head the risk owner; the level comes from
the likelihood × impact matrix (bpmn/risk_level.dmn); monitoring warns when an indicator reaches its threshold,
and a quarterly report decides whether to go on, reassess or close."""

import pytest

IDENTIFY = {
    "risk_name": "核心数据库单点故障",
    "risk_category": "技术风险",
    "identification_method": "检查表法",
    "related_service": "客户管理系统",
    "department": "ops",
    "risk_description": "数据库无热备",
}
STRATEGY = {
    "risk_strategy": "降低",
    "strategy_measures": "建设热备并演练",
    "measures_deadline": "2026-12-31",
    "threshold_frequency": 2,
    "threshold_scope": 100,
    "threshold_loss": 5,
    "warning_contacts": ["tech_head", "ops_eng"],
}
CALM = {
    "monitor_date": "2026-11-30",
    "observed_frequency": 0,
    "observed_scope": 0,
    "observed_loss": 0,
    "measures_status": "热备建设中",
}
REPORT = {
    "report_period": "2026年第4季度",
    "monitoring_summary": "指标平稳",
    "warning_summary": "预警 1 次",
    "trend_analysis": "风险下降",
    "next_step": "close",
}
OK = {"decision": "approve", "comment": "同意"}


def assessed(likelihood, impact, owner="ops_head"):
    return {"likelihood": likelihood, "impact": impact, "cause_analysis": "单机部署", "risk_owner": owner}


def open_tasks(api, case_id, element_id=None):
    return [
        t
        for t in api.case(case_id)["tasks"]
        if t["state"] == "open" and (element_id is None or t["element_id"] == element_id)
    ]


def notes(api, case_id):
    return [e for e in api.case(case_id)["history"] if e["type"] == "notified"]


def start(api, likelihood="中", impact="中"):
    case = api.start("risk_management", "emp")
    api.walk(case["id"], [("identify", "emp", IDENTIFY), ("assess", "tech_head", assessed(likelihood, impact))])
    return case["id"]


def to_monitoring(api, likelihood="中", impact="中"):
    case_id = start(api, likelihood, impact)
    api.walk(case_id, [("plan_strategy", "ops_head", STRATEGY), ("approve_strategy", "tech_head", OK)])
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["monitor"]
    return case_id


@pytest.mark.parametrize(
    "likelihood,impact,level",
    [
        ("高", "高", "高"),
        ("高", "中", "高"),
        ("中", "高", "高"),
        ("高", "低", "中"),
        ("中", "中", "中"),
        ("低", "高", "中"),
        ("中", "低", "低"),
        ("低", "中", "低"),
        ("低", "低", "低"),
    ],
)
def test_level_follows_the_likelihood_impact_matrix(api, likelihood, impact, level):
    case_id = start(api, likelihood, impact)
    body = api.case(case_id)
    assert body["data"]["risk_level"] == level
    # The risk owner named in the assessment plans the response.
    assert [(t["element_id"], t["candidate_users"]) for t in body["tasks"] if t["state"] == "open"] == [
        ("plan_strategy", ["ops_head"])
    ]


def test_happy_path_monitoring_warning_quarterly_report_and_closure(api, clock):
    case_id = to_monitoring(api)
    # Below every threshold: nothing is raised, monitoring goes on.
    api.walk(case_id, [("monitor", "ops_head", CALM)])
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["monitor"] and notes(api, case_id) == []
    # The loss reaches its threshold (≥): a warning goes to the contacts and the owner, then the owner handles it.
    api.walk(case_id, [("monitor", "ops_head", {**CALM, "observed_frequency": 1, "observed_loss": 5})])
    warning = notes(api, case_id)[-1]
    assert warning["data"]["kind"] == "escalation"
    assert sorted(warning["data"]["to"]) == ["ops_eng", "ops_head", "tech_head"]
    assert "损失程度" in warning["comment"] and "发生频率" not in warning["comment"]
    api.walk(
        case_id, [("handle_warning", "ops_head", {"warning_response": "启用临时备份", "warning_action": "continue"})]
    )
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["monitor"]
    # 30 days without a record: the owner is reminded; on the first day of the next quarter the report is due.
    clock.advance(days=30, minutes=1)
    reminder = notes(api, case_id)[-1]
    assert reminder["data"] == {"to": ["ops_head"], "kind": "reminder"}
    clock.advance(days=9)  # 2027-01-01 09:01
    body = api.case(case_id)
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["quarterly_report"]
    assert body["data"]["report_due"] == "2027-01-01"
    assert (body["data"]["period_records"], body["data"]["period_warnings"]) == (2, 1)
    assert [e["element_id"] for e in body["history"] if e["type"] == "task_cancelled"] == ["monitor"]
    api.walk(case_id, [("quarterly_report", "ops_head", REPORT), ("review_report", "tech_head", OK)])
    done = api.case(case_id)
    assert done["status"] == "completed", done["error"]
    assert [s[:2] for s in api.completions(case_id)] == [
        ("identify", "emp"),
        ("assess", "tech_head"),
        ("plan_strategy", "ops_head"),
        ("approve_strategy", "tech_head"),
        ("monitor", "ops_head"),
        ("monitor", "ops_head"),
        ("handle_warning", "ops_head"),
        ("quarterly_report", "ops_head"),
        ("review_report", "tech_head"),
    ]
    assessment = next(e for e in done["history"] if e["element_id"] == "assess" and e["type"] == "task_completed")
    assert assessment["data"]["cause_analysis"] == "单机部署"  # the assessment report is kept as submitted


def test_high_risk_needs_the_general_manager_and_rejections_return_to_the_owner(api):
    case_id = start(api, "中", "高")
    api.walk(case_id, [("plan_strategy", "ops_head", STRATEGY)])
    task = open_tasks(api, case_id, "approve_strategy")[0]
    assert task["candidate_users"] == ["tech_head"]
    r = api.post(f"/tasks/{task['id']}/complete", "tech_head", {"data": {"decision": "reject"}})
    assert r.status_code == 400 and "comment" in r.json["errors"]
    api.walk(
        case_id,
        [
            ("approve_strategy", "tech_head", {"decision": "reject", "comment": "阈值过高"}),
            ("plan_strategy", "ops_head", {**STRATEGY, "threshold_loss": 2}),
            ("approve_strategy", "tech_head", OK),
            ("gm_approve", "gm", {"decision": "reject", "comment": "应考虑规避：迁移到云数据库"}),
            ("plan_strategy", "ops_head", {**STRATEGY, "risk_strategy": "规避", "strategy_measures": "迁移到云数据库"}),
            ("approve_strategy", "tech_head", OK),
            ("gm_approve", "gm", OK),
        ],
    )
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["monitor"]
    assert [s for s in api.completions(case_id) if s[0] in ("plan_strategy", "approve_strategy", "gm_approve")] == [
        ("plan_strategy", "ops_head", None),
        ("approve_strategy", "tech_head", "reject"),
        ("plan_strategy", "ops_head", None),
        ("approve_strategy", "tech_head", "approve"),
        ("gm_approve", "gm", "reject"),
        ("plan_strategy", "ops_head", None),
        ("approve_strategy", "tech_head", "approve"),
        ("gm_approve", "gm", "approve"),
    ]
    assert api.case(case_id)["data"]["risk_strategy"] == "规避"


@pytest.mark.parametrize(
    "likelihood,impact,strategy,needs_gm",
    [
        ("中", "中", "接受", True),  # accepting a medium risk is the general manager's decision
        ("低", "低", "接受", False),  # accepting a low risk is within the IT head's authority
        ("中", "中", "转移", False),
    ],
)
def test_who_approves_depends_on_level_and_strategy(api, likelihood, impact, strategy, needs_gm):
    case_id = start(api, likelihood, impact)
    api.walk(
        case_id,
        [("plan_strategy", "ops_head", {**STRATEGY, "risk_strategy": strategy}), ("approve_strategy", "tech_head", OK)],
    )
    expected = [("gm_approve", ["gm"])] if needs_gm else [("monitor", ["ops_head"])]
    assert [(t["element_id"], t["candidate_users"]) for t in open_tasks(api, case_id)] == expected


def test_a_warning_can_send_the_risk_back_to_assessment(api):
    case_id = to_monitoring(api)
    api.walk(
        case_id,
        [
            ("monitor", "ops_head", {**CALM, "observed_frequency": 3, "observed_scope": 150}),
            ("handle_warning", "ops_head", {"warning_response": "故障频发", "warning_action": "reassess"}),
        ],
    )
    assert sorted(notes(api, case_id)[-1]["data"]["to"]) == ["ops_eng", "ops_head", "tech_head"]
    api.walk(case_id, [("assess", "tech_head", assessed("高", "高", owner="tech_eng2"))])
    body = api.case(case_id)
    assert body["data"]["risk_level"] == "高"
    assert [(t["element_id"], t["candidate_users"]) for t in open_tasks(api, case_id)] == [
        ("plan_strategy", ["tech_eng2"])
    ]  # the newly named owner takes over


def test_quarterly_report_is_revised_then_monitoring_continues_next_quarter(api, clock):
    case_id = to_monitoring(api)
    clock.advance(days=39, minutes=1)  # 2027-01-01 09:01
    api.walk(
        case_id,
        [
            ("quarterly_report", "ops_head", {**REPORT, "next_step": "continue"}),
            ("review_report", "tech_head", {"decision": "reject", "comment": "补充趋势数据"}),
            ("quarterly_report", "ops_head", {**REPORT, "trend_analysis": "频率下降 50%", "next_step": "continue"}),
            ("review_report", "tech_head", OK),
        ],
    )
    body = api.case(case_id)
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["monitor"]
    assert body["data"]["report_due"] == "2027-04-01" and body["data"]["period_records"] == 0
    assert [s[0] for s in api.completions(case_id)][-4:] == [
        "quarterly_report",
        "review_report",
        "quarterly_report",
        "review_report",
    ]
    # The next quarter's report falls due on 1 April.
    clock.advance(days=89)  # 2027-03-31
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["monitor"]
    clock.advance(days=1)
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["quarterly_report"]
