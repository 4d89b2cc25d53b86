"""新服务或变更服务 (seed 002《新服务或变更服务管理程序》3.1–3.3, 4.1–4.6) walked through the API by the demo users."""

import pytest

KEY = "new_service"
CONTRACT = {
    "service_type": "new",
    "customer": "某银行信息科技部",
    "service_name": "核心系统运维服务",
    "contract_no": "HT-2026-088",
    "contract_signed_on": "2026-11-20",
    "sla_no": "SLA-HT-2026-088",
    "service_requirements": "7×24 运维，季度巡检",
    "agreed_service_levels": "可用性 99.9%；P1 30 分钟响应",
    "service_start": "2027-01-01",
    "service_end": "2027-12-31",
    "handover_note": "需求说明书见附件",
}
PLAN = {
    "plan_scope": "新建核心系统运维服务",
    "roles": "项目经理、一线支持、客户接口人",
    "framework_changes": "新增服务目录条目",
    "communication": "周报、月度服务报告",
    "contract_changes": "无",
    "hr_requirements": "新增 2 名驻场工程师",
    "start_termination": "2027-01-01 启动，合同到期终止",
    "skills_training": "数据库运维培训",
    "processes_tools": "事件、变更、能力管理；监控平台",
    "budget": 800000,
    "schedule": "12 月完成准备",
    "acceptance_criteria": "试运行一个月无 P1 事件",
    "expected_results": "可用性 ≥ 99.9%，满意度 ≥ 90 分",
    "needs_supplier": "yes",
    "purchase_need": "存储维保",
    "needs_internal_support": "yes",
    "support_departments": ["ops", "tech"],
}
NO_SUPPORT = {**PLAN, "needs_supplier": "no", "needs_internal_support": "no", "support_departments": []}
UC = {
    "supplier": "某存储厂商",
    "uc_no": "UC-2026-011",
    "uc_scope": "存储硬件维保",
    "uc_service_levels": "4 小时到场",
    "uc_valid_to": "2027-12-31",
}
BUDGET = {"decision": "approve", "approved_budget": 780000}
REVIEW = {
    "decision": "approve",
    "customer_reviewer": "客户王经理",
    "customer_reviewed_on": "2026-12-05",
    "customer_decision": "approve",
    "customer_opinion": "同意",
    "contract_fulfilment": "满足合同全部要求",
}
CHANGE = {
    "decision": "approve",
    "change_category": "normal",
    "change_risk": "低",
    "change_impact": "新增服务，无影响",
    "resources_sufficient": "yes",
    "backout_plan": "不适用",
}
IMPLEMENT = {
    "went_live_on": "2027-01-01",
    "implementation_summary": "按计划启动",
    "service_records": "服务记录、1 月服务报告",
    "effect_report": "首月可用性 99.95%",
}
POST = {
    "decision": "approve",
    "actual_results": "可用性 99.95%，满意度 92 分",
    "results_vs_plan": "achieved",
    "acceptance_met": "yes",
}


def ola(decision="approve", comment=None):
    body = {
        "support_scope": "夜间值守",
        "support_hours": "7×24",
        "response_hours": 1,
        "resolution_hours": 8,
        "responsibilities": "运维部负责监控，技术部负责数据库",
        "decision": decision,
    }
    return {"ola": {**body, "comment": comment} if comment else body}


def open_tasks(api, case_id):
    return [t for t in api.case(case_id)["tasks"] if t["state"] == "open"]


def sign_olas(api, case_id, answers):
    """Each supporting department's head signs the OLA for their own department only."""
    for user, data in answers:
        mine = [t for t in open_tasks(api, case_id) if t["element_id"] == "sign_ola" and user in t["candidate_users"]]
        assert len(mine) == 1 and mine[0]["candidate_users"] == [user], open_tasks(api, case_id)
        api.complete(mine[0]["id"], user, data)


def contracted(api):
    case = api.start(KEY, "sales")
    [first] = case["tasks"]
    assert (first["element_id"], first["assignee"]) == ("sign_contract", "sales")
    api.walk(case["id"], [("sign_contract", "sales", CONTRACT)])
    return case["id"]


AFTER_SUPPORT = [
    ("confirm_budget", "fin_head", BUDGET),
    ("plan_review", "mkt_head", REVIEW),
    ("change_approval", "tech_eng", CHANGE),
    ("implement", "pm", IMPLEMENT),
    ("post_review", "tech_eng", POST),
]


def test_contract_plan_support_agreements_budget_review_change_implementation_and_review(api):
    case_id = contracted(api)
    api.walk(case_id, [("write_plan", "pm", PLAN), ("sign_uc", "office_head", UC)])
    sign_olas(api, case_id, [("ops_head", ola()), ("tech_head", ola())])
    for element_id, user, _ in AFTER_SUPPORT:  # each step offered to its role only
        task = api.open_task(case_id, user, element_id)
        assert task["candidate_users"] == [user], task
        api.walk(case_id, [next(s for s in AFTER_SUPPORT if s[0] == element_id)])

    done = api.case(case_id)
    assert done["status"] == "completed", done["error"]
    assert api.completions(case_id) == [
        ("sign_contract", "sales", None),
        ("write_plan", "pm", None),
        ("sign_uc", "office_head", None),
        ("sign_ola", "ops_head", None),
        ("sign_ola", "tech_head", None),
        ("confirm_budget", "fin_head", "approve"),
        ("plan_review", "mkt_head", "approve"),
        ("change_approval", "tech_eng", "approve"),
        ("implement", "pm", None),
        ("post_review", "tech_eng", "approve"),
    ]
    data = done["data"]
    assert sorted(data["olas"]) == ["ops", "tech"]  # one 《运营级别协议》 per supporting department
    assert data["olas"]["ops"]["support_hours"] == "7×24"
    assert (data["uc_no"], data["approved_budget"], data["results_vs_plan"]) == ("UC-2026-011", 780000, "achieved")
    plan = next(e for e in done["history"] if e["element_id"] == "write_plan")["data"]
    assert plan["expected_results"] == "可用性 ≥ 99.9%，满意度 ≥ 90 分"  # the 《服务计划书》 kept as filed


def test_without_supplier_or_internal_support_the_plan_goes_to_finance(api):
    case_id = contracted(api)
    api.walk(case_id, [("write_plan", "pm", NO_SUPPORT)])
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["confirm_budget"]
    api.walk(case_id, AFTER_SUPPORT)
    assert api.case(case_id)["status"] == "completed"
    assert [s[0] for s in api.completions(case_id)] == ["sign_contract", "write_plan"] + [s[0] for s in AFTER_SUPPORT]


def test_only_sales_managers_start_it(api):
    for user in ("emp", "pm", "mkt_head"):
        r = api.post(f"/processes/{KEY}/instances", user, {"data": {}})
        assert r.status_code == 403 and "sales" in r.json["message"], user


@pytest.mark.parametrize(
    "element_id,user,rejection,back_to",
    [
        ("confirm_budget", "fin_head", {**BUDGET, "decision": "reject", "comment": "预算超出报价"}, "write_plan"),
        ("plan_review", "mkt_head", {**REVIEW, "decision": "reject", "comment": "未覆盖合同的巡检要求"}, "write_plan"),
        (
            "plan_review",
            "mkt_head",
            {**REVIEW, "customer_decision": "reject", "customer_opinion": "客户要求增加驻场人数"},
            "write_plan",
        ),
        ("change_approval", "tech_eng", {**CHANGE, "decision": "reject", "comment": "缺少回退计划"}, "write_plan"),
        (
            "post_review",
            "tech_eng",
            {**POST, "decision": "reject", "comment": "满意度未达到计划", "results_vs_plan": "partly"},
            "implement",
        ),
    ],
)
def test_a_rejection_returns_to_the_step_that_fixes_it(api, element_id, user, rejection, back_to):
    case_id = contracted(api)
    api.walk(case_id, [("write_plan", "pm", NO_SUPPORT)])
    at = [s[0] for s in AFTER_SUPPORT].index(element_id)
    api.walk(case_id, AFTER_SUPPORT[:at] + [(element_id, user, rejection)])
    [back] = open_tasks(api, case_id)
    assert back["element_id"] == back_to and back["candidate_users"] == ["pm"]
    redo = [("write_plan", "pm", NO_SUPPORT)] + AFTER_SUPPORT if back_to == "write_plan" else AFTER_SUPPORT[-2:]
    api.walk(case_id, redo)
    assert api.case(case_id)["status"] == "completed"
    steps = [s[0] for s in api.completions(case_id)]
    assert steps.count(back_to) == 2 and steps.count(element_id) == 2


def test_a_rejection_without_a_reason_is_refused(api):
    case_id = contracted(api)
    api.walk(case_id, [("write_plan", "pm", NO_SUPPORT)])
    task = api.open_task(case_id, "fin_head", "confirm_budget")
    r = api.post(f"/tasks/{task['id']}/complete", "fin_head", {"data": {**BUDGET, "decision": "reject"}})
    assert r.status_code == 400 and "comment" in r.json["errors"]


def test_a_department_refusing_the_ola_sends_the_plan_back_and_only_the_new_round_counts(api):
    case_id = contracted(api)
    api.walk(case_id, [("write_plan", "pm", PLAN), ("sign_uc", "office_head", UC)])
    ops_task = next(t for t in open_tasks(api, case_id) if t["candidate_users"] == ["ops_head"])
    assert api.post(f"/tasks/{ops_task['id']}/complete", "tech_head", {"data": ola()}).status_code == 403
    r = api.post(f"/tasks/{ops_task['id']}/complete", "ops_head", {"data": ola("reject")})
    assert r.status_code == 400  # a refusal needs its reason
    sign_olas(api, case_id, [("tech_head", ola()), ("ops_head", ola("reject", "夜间无人值守，无法承诺"))])
    [back] = open_tasks(api, case_id)
    assert back["element_id"] == "write_plan"
    # the revised plan no longer needs 运维部; its earlier refusal does not block the new round
    api.walk(case_id, [("write_plan", "pm", {**PLAN, "support_departments": ["tech"]}), ("sign_uc", "office_head", UC)])
    sign_olas(api, case_id, [("tech_head", ola())])
    assert [t["element_id"] for t in open_tasks(api, case_id)] == ["confirm_budget"]
    assert list(api.case(case_id)["data"]["olas"]) == ["tech"]
    api.walk(case_id, AFTER_SUPPORT)
    assert api.case(case_id)["status"] == "completed"
