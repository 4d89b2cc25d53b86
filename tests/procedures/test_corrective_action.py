"""纠正/预防措施 (《内部审核控制程序》4.4): the responsible department's person analyses and plans, the department
manager reviews (never their own analysis), 管理者代表 approves, implementation, verification by an auditor from
another department; not effective → further action until closed. The message start (start:corrective_action)
is walked in test_internal_audit.py, where each nonconformity starts one of these."""

import re

import pytest

REGISTER = {
    "department": "ops",
    "source": "spot_check",
    "nonconformity": "夜班交接记录缺失三天",
    "severity": "一般",
    "source_no": "CC-2026-07",
}
ANALYSE = {
    "action_type": "corrective",
    "cause_analysis": "交接模板未强制填写",
    "correction": "补录交接记录",
    "planned_action": "交接记录纳入值班系统必填项，班组长每日检查",
    "due_date": "2026-12-10",
}
IMPLEMENT = {
    "implementation": "值班系统已上线必填校验",
    "completed_on": "2026-12-05",
    "implementation_evidence": "系统变更单 CHG-2026-031",
}
APPROVE = {"decision": "approve"}


def raise_case(api, starter="emp", **changes):
    case = api.start("corrective_action", starter)
    api.walk(case["id"], [("register", starter, {**REGISTER, **changes})])
    return case


def test_department_analyses_manager_reviews_mr_approves_auditor_verifies(api, clock):
    case = raise_case(api)
    data = api.case(case["id"])["data"]
    assert re.fullmatch(r"CA-2026-\d{3}", data["ca_no"])
    assign = api.open_task(case["id"], "ops_head", "assign_owner")
    assert assign["candidate_users"] == ["ops_head"]  # head of the responsible department
    api.complete(assign["id"], "ops_head", {"analyst": "ops_eng", "assign_note": "一周内完成原因分析"})
    note = [e for e in api.case(case["id"])["history"] if e["type"] == "notified"]
    assert [n["data"]["to"] for n in note] == [["ops_head"]] and "ops_eng" in note[0]["comment"]

    assert api.open_task(case["id"], "ops_eng", "analyse_cause")["candidate_users"] == ["ops_eng"]
    api.walk(case["id"], [("analyse_cause", "ops_eng", ANALYSE)])
    assert api.open_task(case["id"], "ops_head", "dept_review")["candidate_users"] == ["ops_head"]
    api.walk(
        case["id"],
        [("dept_review", "ops_head", APPROVE), ("mr_approve", "mr", APPROVE), ("implement", "ops_eng", IMPLEMENT)],
    )
    verify = api.open_task(case["id"], "hr_trainer", "verify")
    assert verify["candidate_users"] == ["tech_eng", "hr_trainer"]  # auditors, none of them from 运维部
    api.complete(verify["id"], "hr_trainer", {**APPROVE, "verification_record": "抽查12月交接记录完整"})

    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert api.completions(case["id"]) == [
        ("register", "emp", None),
        ("assign_owner", "ops_head", None),
        ("analyse_cause", "ops_eng", None),
        ("dept_review", "ops_head", "approve"),
        ("mr_approve", "mr", "approve"),
        ("implement", "ops_eng", None),
        ("verify", "hr_trainer", "approve"),
    ]
    assert done["data"]["ca_status"] == "closed" and done["data"]["closed_on"] == "2026-11-23"
    assert [(r["round"], r["effective"], r["action"]) for r in done["data"]["action_log"]] == [
        (1, True, ANALYSE["planned_action"])
    ]


def test_the_manager_cannot_review_an_analysis_of_their_own(api, clock):
    case = raise_case(api)
    assign = api.open_task(case["id"], "ops_head", "assign_owner")
    r = api.post(f"/tasks/{assign['id']}/complete", "ops_head", {"data": {"analyst": "ops_head"}})
    assert r.status_code == 400 and "职责分离" in r.json["message"]
    # Refused as a whole: the assignment is still open, nothing was recorded.
    assert api.open_task(case["id"], "ops_head", "assign_owner")["id"] == assign["id"]
    assert [e for e in api.case(case["id"])["history"] if e["element_id"] == "assign_owner"] == []
    api.complete(assign["id"], "ops_head", {"analyst": "emp"})
    api.walk(
        case["id"],
        [
            ("analyse_cause", "emp", ANALYSE),
            ("dept_review", "ops_head", APPROVE),
            ("mr_approve", "mr", APPROVE),
            ("implement", "emp", IMPLEMENT),
            ("verify", "tech_eng", {**APPROVE, "verification_record": "已验证"}),
        ],
    )
    assert api.case(case["id"])["status"] == "completed"


def test_an_auditor_never_verifies_their_own_department(api, clock):
    case = raise_case(api, department="tech")
    api.walk(
        case["id"],
        [
            ("assign_owner", "tech_head", {"analyst": "tech_eng2"}),
            ("analyse_cause", "tech_eng2", ANALYSE),
            ("dept_review", "tech_head", APPROVE),
            ("mr_approve", "mr", APPROVE),
            ("implement", "tech_eng2", IMPLEMENT),
        ],
    )
    verify = api.open_task(case["id"], "hr_trainer", "verify")
    assert verify["candidate_users"] == ["hr_trainer"]  # tech_eng is an auditor of 技术部 itself
    r = api.post(f"/tasks/{verify['id']}/complete", "tech_eng", {"data": {**APPROVE, "verification_record": "x"}})
    assert r.status_code == 403
    api.complete(verify["id"], "hr_trainer", {**APPROVE, "verification_record": "已验证"})
    assert api.case(case["id"])["status"] == "completed"


@pytest.mark.parametrize(
    "rejecter,element_id,before",
    [
        ("ops_head", "dept_review", []),
        ("mr", "mr_approve", [("dept_review", "ops_head", APPROVE)]),
    ],
)
def test_rejection_returns_to_the_person_who_analysed(api, clock, rejecter, element_id, before):
    case = raise_case(api)
    api.walk(
        case["id"],
        [("assign_owner", "ops_head", {"analyst": "ops_eng"}), ("analyse_cause", "ops_eng", ANALYSE)] + before,
    )
    task = api.open_task(case["id"], rejecter, element_id)
    api.complete(task["id"], rejecter, {"decision": "reject", "comment": "原因分析未触及根本原因"})
    assert api.open_task(case["id"], "ops_eng", "analyse_cause")["candidate_users"] == ["ops_eng"]
    api.walk(
        case["id"],
        [
            ("analyse_cause", "ops_eng", {**ANALYSE, "cause_analysis": "交接制度未规定检查责任"}),
            ("dept_review", "ops_head", APPROVE),
            ("mr_approve", "mr", APPROVE),
            ("implement", "ops_eng", IMPLEMENT),
            ("verify", "tech_eng", {**APPROVE, "verification_record": "已验证"}),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed"
    steps = api.completions(case["id"])
    assert (element_id, rejecter, "reject") in steps and [s[0] for s in steps].count("analyse_cause") == 2
    assert done["data"]["action_log"][0]["cause"] == "交接制度未规定检查责任"


def test_not_effective_means_further_action_until_verified(api, clock):
    case = raise_case(api)
    round_ = [
        ("analyse_cause", "ops_eng", ANALYSE),
        ("dept_review", "ops_head", APPROVE),
        ("mr_approve", "mr", APPROVE),
        ("implement", "ops_eng", IMPLEMENT),
    ]
    api.walk(case["id"], [("assign_owner", "ops_head", {"analyst": "ops_eng"}), *round_])
    verify = api.open_task(case["id"], "tech_eng", "verify")
    r = api.post(
        f"/tasks/{verify['id']}/complete",
        "tech_eng",
        {"data": {"decision": "reject", "verification_record": "仍有两天记录缺失"}},
    )
    assert r.status_code == 400 and "comment" in r.json["errors"]  # "not effective" needs its reasons
    api.complete(
        verify["id"],
        "tech_eng",
        {"decision": "reject", "verification_record": "仍有两天记录缺失", "comment": "须增加班组长每日核对"},
    )
    again = api.case(case["id"])
    assert [t["element_id"] for t in again["tasks"] if t["state"] == "open"] == ["analyse_cause"]
    assert again["data"]["action_round"] == 2
    further = {**ANALYSE, "planned_action": "增加班组长每日核对并签字", "due_date": "2026-12-20"}
    api.walk(
        case["id"],
        [
            ("analyse_cause", "ops_eng", further),
            *round_[1:],
            ("verify", "tech_eng", {**APPROVE, "verification_record": "连续两周记录完整"}),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed"
    assert [(r["round"], r["effective"], r["action"]) for r in done["data"]["action_log"]] == [
        (1, False, ANALYSE["planned_action"]),
        (2, True, "增加班组长每日核对并签字"),
    ]
    assert [s for s in api.completions(case["id"]) if s[0] == "verify"] == [
        ("verify", "tech_eng", "reject"),
        ("verify", "tech_eng", "approve"),
    ]


def test_due_date_reminder_then_escalation_to_mr_and_the_department(api, clock):
    case = raise_case(api)
    api.walk(
        case["id"],
        [
            ("assign_owner", "ops_head", {"analyst": "ops_eng"}),
            ("analyse_cause", "ops_eng", {**ANALYSE, "due_date": "2026-12-01"}),
            ("dept_review", "ops_head", APPROVE),
            ("mr_approve", "mr", APPROVE),
        ],
    )

    def notes():
        return [
            (e["data"]["kind"], e["data"]["to"]) for e in api.case(case["id"])["history"] if e["type"] == "notified"
        ][1:]  # the first one told the reviewer about the assignment

    clock.advance(days=4, hours=23)
    assert notes() == []
    clock.advance(hours=1, minutes=1)  # 11-28 09:01: three days before the due date
    assert notes() == [("reminder", ["ops_eng"])]
    clock.advance(days=4)  # 12-02 09:01: overdue
    assert notes() == [("reminder", ["ops_eng"]), ("escalation", ["mr"]), ("escalation", ["ops_head"])]
    api.walk(
        case["id"],
        [("implement", "ops_eng", IMPLEMENT), ("verify", "hr_trainer", {**APPROVE, "verification_record": "已验证"})],
    )
    assert api.case(case["id"])["status"] == "completed"
