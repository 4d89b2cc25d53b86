"""服务级别管理 (seed 002《服务级别管理程序》5.1–5.6) walked through the API by the demo users."""

import re

import pytest

KEY = "sla_management"
REQUIREMENTS = {
    "customer": "某银行信息科技部",
    "requirement_sources": ["tender"],
    "requirements": "核心系统 7×24 运维",
    "quantified_indicators": "可用性 ≥ 99.9%；P1 30 分钟响应",
    "meeting_date": "2026-11-30",
    "meeting_preparation": "准备服务目录和SLA模板",
}
SLR = {
    "service_functions": "核心系统可用、故障及时恢复",
    "service_hours": "7×24",
    "continuity_requirements": "RTO 4 小时",
    "it_functions": ["ops", "tech"],
    "customer_signatory": "客户王经理",
    "slr_signed_on": "2026-12-01",
    "customer_signed": "yes",
}
SLA = {
    "internal_spec": "监控平台 + 两级支持；质量控制按事件管理程序",
    "sla_level": "customer",
    "sla_services": "核心系统运维",
    "availability_target": 99.9,
    "response_hours": 0.5,
    "resolution_hours": 4,
    "report_interval": "monthly",
    "sla_valid_from": "2027-01-01",
    "sla_valid_to": "2027-12-31",
    "needs_ola": "yes",
    "ola_departments": ["ops"],
    "needs_uc": "yes",
    "uc_requirements": "存储厂商 4 小时到场",
}
SLA_PLAIN = {**SLA, "needs_ola": "no", "ola_departments": [], "needs_uc": "no"}
OLA = {
    "ola": {
        "support_scope": "夜间监控值守",
        "support_hours": "7×24",
        "response_hours": 0.25,
        "resolution_hours": 2,
        "decision": "approve",
    }
}
UC = {
    "decision": "approve",
    "supplier": "某存储厂商",
    "uc_no": "UC-2026-031",
    "uc_scope": "存储维保，4 小时到场",
    "uc_valid_to": "2027-12-31",
}
CONFIRM = {"decision": "approve", "customer_rep": "客户王经理", "sla_confirmed_on": "2026-12-10"}
CATALOGUE = {
    "catalogue_version": "V2.0",
    "catalogue_entries": "核心系统运维服务",
    "publish_channels": ["intranet"],
    "catalogue_published_on": "2026-12-12",
}
REVIEW = {
    "reviewed_on": "2027-12-01",
    "review_participants": "服务级别经理、客户、市场营销部",
    "slas_since_last": "1 份",
    "service_trends": "事件量下降",
    "process_changes": "无",
    "failure_reasons": "2 月存储故障超时",
    "review_outcome": "improve",
}
SIP = {
    "sip_actions": [{"action": "增加存储冗余", "owner": "tech_head", "due_date": "2028-03-31"}],
    "extra_resources": "追加存储预算",
    "revise_sla": "no",
}
EVENT = {
    "monitored_items": ["incidents"],
    "monitoring_notes": "机房断电 6 小时",
    "major_event": "机房断电导致服务中断超出SLA",
}

TO_SIGNED = [
    ("identify_requirements", "sales", REQUIREMENTS),
    ("define_slr", "tech_eng2", SLR),
    ("draft_sla", "tech_eng2", SLA),
    ("sign_ola", "ops_head", OLA),
    ("sign_uc", "office_head", UC),
    ("confirm_sla", "sales", CONFIRM),
    ("update_catalogue", "tech_eng2", CATALOGUE),
]


def open_tasks(api, case_id):
    return [t for t in api.case(case_id)["tasks"] if t["state"] == "open"]


def started(api, user="sales"):
    case = api.start(KEY, user)
    [first] = case["tasks"]
    assert first["element_id"] == "identify_requirements" and first["candidate_users"] == ["sales"]
    return case["id"]


def monitoring(api):
    case_id = started(api)
    api.walk(case_id, TO_SIGNED)
    [task] = open_tasks(api, case_id)
    assert (task["element_id"], task["candidate_users"]) == ("monitor", ["tech_eng2"])
    return case_id


def test_requirements_slr_agreements_customer_confirmation_and_catalogue(api, clock):
    case_id = started(api)
    for element_id, user, data in TO_SIGNED:  # each step offered to exactly its role
        task = api.open_task(case_id, user, element_id)
        assert task["candidate_users"] == [user], task
        api.complete(task["id"], user, data)
    body = api.case(case_id)
    data = body["data"]
    assert re.fullmatch(r"SLA-2026-\d{3}", data["sla_no"]) and data["sla_version"] == 1
    assert data["olas"] == {"ops": OLA["ola"]}
    assert api.completions(case_id) == [
        ("identify_requirements", "sales", None),
        ("define_slr", "tech_eng2", None),
        ("draft_sla", "tech_eng2", None),
        ("sign_ola", "ops_head", None),
        ("sign_uc", "office_head", "approve"),
        ("confirm_sla", "sales", "approve"),
        ("update_catalogue", "tech_eng2", None),
    ]
    slr = next(e for e in body["history"] if e["element_id"] == "define_slr")["data"]
    assert (slr["customer_signatory"], slr["customer_signed"]) == ("客户王经理", "yes")  # SLR signed by both
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["monitor"]


def test_service_review_at_least_every_12_months_then_improvement_then_monitoring_again(api, clock):
    case_id = monitoring(api)
    clock.advance(days=364)
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["monitor"]
    clock.advance(days=2)  # 12 months of monitoring: the yearly service review is due
    [review] = open_tasks(api, case_id)
    assert (review["element_id"], review["candidate_users"]) == ("service_review", ["tech_eng2"])
    assert api.case(case_id)["data"]["review_trigger"] == "annual"
    api.walk(
        case_id,
        [
            ("service_review", "tech_eng2", REVIEW),
            ("improvement_plan", "tech_eng2", SIP),
            ("approve_sip", "dev_head", {"decision": "approve"}),
        ],
    )
    [again] = open_tasks(api, case_id)
    assert again["element_id"] == "monitor"  # the next monitoring period

    # a major event: the service level manager asks for a review at once; the service is then terminated
    api.walk(case_id, [("monitor", "tech_eng2", EVENT)])
    assert api.case(case_id)["data"]["review_trigger"] == "major_event"
    api.walk(case_id, [("service_review", "tech_eng2", {**REVIEW, "review_outcome": "terminate"})])
    done = api.case(case_id)
    assert done["status"] == "completed", done["error"]
    assert [s[0] for s in api.completions(case_id)][-5:] == [
        "service_review",
        "improvement_plan",
        "approve_sip",
        "monitor",
        "service_review",
    ]


def test_a_review_without_improvement_keeps_monitoring(api, clock):
    case_id = monitoring(api)
    api.walk(
        case_id,
        [("monitor", "tech_eng2", EVENT), ("service_review", "tech_eng2", {**REVIEW, "review_outcome": "continue"})],
    )
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["monitor"]


def test_revising_the_sla_after_review_keeps_its_number_and_raises_its_version(api, clock):
    case_id = monitoring(api)
    number = api.case(case_id)["data"]["sla_no"]
    api.walk(
        case_id,
        [
            ("monitor", "tech_eng2", EVENT),
            ("service_review", "tech_eng2", REVIEW),
            ("improvement_plan", "tech_eng2", {**SIP, "revise_sla": "yes"}),
            ("approve_sip", "dev_head", {"decision": "approve"}),
            ("draft_sla", "tech_eng2", {**SLA_PLAIN, "availability_target": 99.95}),
            ("confirm_sla", "sales", CONFIRM),
            ("update_catalogue", "tech_eng2", CATALOGUE),
        ],
    )
    data = api.case(case_id)["data"]
    assert (data["sla_no"], data["sla_version"], data["availability_target"]) == (number, 2, 99.95)
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["monitor"]


def test_only_the_service_level_manager_and_sales_start_it(api):
    for user in ("emp", "pm", "dev_head"):
        r = api.post(f"/processes/{KEY}/instances", user, {"data": {}})
        assert r.status_code == 403 and "pm_slm" in r.json["message"], user
    started(api, "tech_eng2")  # the first step is still 市场营销部's


@pytest.mark.parametrize(
    "element_id,user,rejection,back_to,fixer",
    [
        (
            "define_slr",
            "tech_eng2",
            {**SLR, "customer_signed": "no", "customer_feedback": "可用时间需覆盖节假日"},
            "define_slr",
            "tech_eng2",
        ),
        (
            "sign_ola",
            "ops_head",
            {"ola": {**OLA["ola"], "decision": "reject", "comment": "夜间无人值守"}},
            "draft_sla",
            "tech_eng2",
        ),
        (
            "sign_uc",
            "office_head",
            {**UC, "decision": "reject", "comment": "供应商不接受 4 小时到场"},
            "draft_sla",
            "tech_eng2",
        ),
        (
            "confirm_sla",
            "sales",
            {**CONFIRM, "decision": "reject", "comment": "客户要求可用性 99.95%"},
            "draft_sla",
            "tech_eng2",
        ),
    ],
)
def test_a_refusal_before_signing_returns_to_the_step_that_fixes_it(
    api, clock, element_id, user, rejection, back_to, fixer
):
    case_id = started(api)
    at = [s[0] for s in TO_SIGNED].index(element_id)
    api.walk(case_id, TO_SIGNED[:at] + [(element_id, user, rejection)])
    [back] = open_tasks(api, case_id)
    assert back["element_id"] == back_to and back["candidate_users"] == [fixer]
    again = [s[0] for s in TO_SIGNED].index(back_to)
    api.walk(case_id, TO_SIGNED[again:])
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["monitor"]
    steps = [s[0] for s in api.completions(case_id)]
    assert steps.count(back_to) == 2 and steps.count(element_id) == 2


def test_a_rejected_improvement_plan_goes_back_to_the_service_level_manager(api, clock):
    case_id = monitoring(api)
    api.walk(
        case_id,
        [
            ("monitor", "tech_eng2", EVENT),
            ("service_review", "tech_eng2", REVIEW),
            ("improvement_plan", "tech_eng2", SIP),
        ],
    )
    task = api.open_task(case_id, "dev_head", "approve_sip")
    assert task["candidate_users"] == ["dev_head"]  # 软件产品研发部经理
    r = api.post(f"/tasks/{task['id']}/complete", "dev_head", {"data": {"decision": "reject"}})
    assert r.status_code == 400 and "comment" in r.json["errors"]
    api.complete(task["id"], "dev_head", {"decision": "reject", "comment": "资源需求未量化"})
    [back] = open_tasks(api, case_id)
    assert (back["element_id"], back["candidate_users"]) == ("improvement_plan", ["tech_eng2"])
    api.walk(case_id, [("improvement_plan", "tech_eng2", SIP), ("approve_sip", "dev_head", {"decision": "approve"})])
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["monitor"]
