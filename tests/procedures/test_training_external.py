"""外出培训审批与报销 (《培训控制程序》4.5): 《培训审批表》 → 人力资源部确认 → 分管副总 → 总裁 → training →
certificate copy or summary → 培训管理员 signs → 人力资源部部长 signs the voucher → 财务部 reimburses."""

import pytest

APPLY = {
    "department": "ops",
    "trainees": ["ops_eng"],
    "course": "ITIL 4 Foundation",
    "organiser": "某认证机构",
    "scope": "domestic",
    "place": "上海",
    "start_date": "2026-12-07",
    "end_date": "2026-12-09",
    "cost_estimate": 5800,
    "purpose": "取得ITIL认证，支撑服务管理体系运行",
    "certificate_expected": True,
}
SUMMARY = {
    "materials": "课程讲义一套",
    "has_certificate": True,
    "certificate_no": "ITIL-123456",
    "certificate_copy": "复印件1份",
    "actual_cost": 5600,
    "invoices": "培训费发票1张、交通票据4张",
}
APPROVE = {"decision": "approve"}
APPROVALS = [("hr_confirm", "hr_trainer", APPROVE), ("vp_review", "vp", APPROVE), ("gm_approve", "gm", APPROVE)]
SIGNATURES = [
    ("trainer_sign", "hr_trainer", {**APPROVE, "archive_no": "WP-2026-008"}),
    ("hr_head_sign", "hr_head", {**APPROVE, "approved_amount": 5600}),
    ("reimburse", "fin_head", {**APPROVE, "reimbursed_amount": 5600, "paid_on": "2026-12-15", "voucher_no": "记-1207"}),
]


def test_approval_training_summary_signatures_and_reimbursement(api):
    case = api.start("training_external", "ops_head")
    api.walk(case["id"], [("apply", "ops_head", APPLY)])
    assert api.open_task(case["id"], "hr_head", "hr_confirm")["candidate_users"] == ["hr_head", "hr_trainer"]
    api.walk(case["id"], APPROVALS)
    assert api.open_task(case["id"], "ops_head", "submit_summary")["assignee"] == "ops_head"
    api.walk(case["id"], [("submit_summary", "ops_head", SUMMARY)])
    assert api.open_task(case["id"], "hr_trainer", "trainer_sign")["candidate_users"] == ["hr_trainer"]
    api.walk(case["id"], SIGNATURES[:1])
    assert api.open_task(case["id"], "hr_head", "hr_head_sign")["candidate_users"] == ["hr_head"]  # HR 部长
    api.walk(case["id"], SIGNATURES[1:2])
    assert api.open_task(case["id"], "fin_head", "reimburse")["candidate_users"] == ["fin_head"]  # 财务部
    api.walk(case["id"], SIGNATURES[2:])

    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert api.completions(case["id"]) == [
        ("apply", "ops_head", None),
        ("hr_confirm", "hr_trainer", "approve"),
        ("vp_review", "vp", "approve"),
        ("gm_approve", "gm", "approve"),
        ("submit_summary", "ops_head", None),
        ("trainer_sign", "hr_trainer", "approve"),
        ("hr_head_sign", "hr_head", "approve"),
        ("reimburse", "fin_head", "approve"),
    ]
    assert done["data"]["reimbursed_amount"] == 5600 and done["data"]["certificate_no"] == "ITIL-123456"


def test_hr_never_confirms_its_own_application(api):
    case = api.start("training_external", "hr_trainer")
    api.walk(case["id"], [("apply", "hr_trainer", {**APPLY, "department": "hr", "trainees": ["hr_trainer"]})])
    task = api.open_task(case["id"], "hr_head", "hr_confirm")
    assert task["candidate_users"] == ["hr_head"]  # the applicant is left out of 人力资源部确认
    r = api.post(f"/tasks/{task['id']}/complete", "hr_trainer", {"data": APPROVE})
    assert r.status_code == 403
    api.complete(task["id"], "hr_head", APPROVE)
    assert api.completions(case["id"])[-1] == ("hr_confirm", "hr_head", "approve")


def test_without_a_certificate_a_summary_is_required(api):
    case = api.start("training_external", "ops_head")
    api.walk(
        case["id"],
        [
            ("apply", "ops_head", {**APPLY, "certificate_expected": False}),
            *APPROVALS,
            (
                "submit_summary",
                "ops_head",
                {**SUMMARY, "has_certificate": False, "certificate_no": None, "certificate_copy": None},
            ),
        ],
    )
    back = api.case(case["id"])
    assert [t["element_id"] for t in back["tasks"] if t["state"] == "open"] == ["submit_summary"]
    assert "培训总结" in back["data"]["summary_problem"]
    api.walk(
        case["id"],
        [
            (
                "submit_summary",
                "ops_head",
                {**SUMMARY, "has_certificate": False, "training_summary": "掌握了ITIL 4 服务价值体系"},
            ),
            *SIGNATURES,
        ],
    )
    assert api.case(case["id"])["status"] == "completed"
    assert [s[0] for s in api.completions(case["id"])].count("submit_summary") == 2


@pytest.mark.parametrize(
    "element_id,back_to",
    [
        ("hr_confirm", "apply"),
        ("vp_review", "apply"),
        ("gm_approve", "apply"),
        ("trainer_sign", "submit_summary"),
        ("hr_head_sign", "submit_summary"),
        ("reimburse", "submit_summary"),
    ],
)
def test_rejection_returns_to_the_applicant(api, element_id, back_to):
    steps = [("apply", "ops_head", APPLY), *APPROVALS, ("submit_summary", "ops_head", SUMMARY), *SIGNATURES]
    position = [s[0] for s in steps].index(element_id)
    case = api.start("training_external", "ops_head")
    api.walk(case["id"], steps[:position])
    _, rejecter, _ = steps[position]
    task = api.open_task(case["id"], rejecter, element_id)
    api.complete(task["id"], rejecter, {"decision": "reject", "comment": "票据不全，请补正"})

    assert api.open_task(case["id"], "ops_head", back_to)["assignee"] == "ops_head"
    api.walk(case["id"], steps[[s[0] for s in steps].index(back_to) :])  # resubmitted and signed again
    assert api.case(case["id"])["status"] == "completed"
    done = api.completions(case["id"])
    assert (element_id, rejecter, "reject") in done
    assert [s[0] for s in done].count(back_to) == 2
