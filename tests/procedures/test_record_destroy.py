"""记录销毁审批 (seed 002 记录控制程序 4.8): the department head decides → 分管领导 approves → the destruction is
recorded (who, when, how) and confirmed by a witness."""

import pytest

APPLY = {
    "records": [
        {
            "record_name": "2022年事件记录",
            "record_no": "ITSR-CX-017-01",
            "period": "2022年",
            "retention_period": "3年",
            "expired_on": "2025-12-31",
        }
    ],
    "reason": "超过保存期限",
    "proposed_method": "shred",
}
EXECUTE = {
    "destroyed_at": "2026-11-25T15:00:00",
    "method": "shred",
    "destroyed_by": ["emp", "ops_eng"],
    "witness": "qg_staff",
    "location": "运维部档案室",
}
OK = {"decision": "approve"}


def test_decided_approved_destroyed_and_witnessed(api):
    case = api.start("record_destroy", "emp")
    api.walk(
        case["id"],
        [
            ("apply", "emp", APPLY),
            ("head_decide", "ops_head", OK),
            ("vp_approve", "vp", OK),
            ("destroy", "emp", EXECUTE),
            ("witness_confirm", "qg_staff", OK),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert api.completions(case["id"]) == [
        ("apply", "emp", None),
        ("head_decide", "ops_head", "approve"),
        ("vp_approve", "vp", "approve"),
        ("destroy", "emp", None),
        ("witness_confirm", "qg_staff", "approve"),
    ]
    record = next(e for e in done["history"] if e["element_id"] == "destroy")
    assert (record["data"]["destroyed_by"], record["data"]["destroyed_at"], record["data"]["method"]) == (
        ["emp", "ops_eng"],
        "2026-11-25T15:00:00",
        "shred",
    )


@pytest.mark.parametrize(
    "rejecter,step,before", [("ops_head", "head_decide", []), ("vp", "vp_approve", [("head_decide", "ops_head", OK)])]
)
def test_a_rejection_returns_the_list_to_the_applicant(api, rejecter, step, before):
    case = api.start("record_destroy", "emp")
    api.walk(case["id"], [("apply", "emp", APPLY), *before])
    task = api.open_task(case["id"], rejecter, step)
    r = api.post(f"/tasks/{task['id']}/complete", rejecter, {"data": {"decision": "reject"}})
    assert r.status_code == 400 and "comment" in r.json["errors"]
    api.complete(task["id"], rejecter, {"decision": "reject", "comment": "2023年记录尚在保存期内"})
    api.walk(
        case["id"],
        [
            ("apply", "emp", {**APPLY, "reason": "已核对保存期限"}),
            ("head_decide", "ops_head", OK),
            ("vp_approve", "vp", OK),
            ("destroy", "emp", EXECUTE),
            ("witness_confirm", "qg_staff", OK),
        ],
    )
    steps = api.completions(case["id"])
    assert (step, rejecter, "reject") in steps and [s[0] for s in steps].count("apply") == 2
    assert steps[steps.index((step, rejecter, "reject")) + 1] == ("apply", "emp", None)
    assert api.case(case["id"])["status"] == "completed"


def test_a_department_head_cannot_decide_on_their_own_list(api):
    r = api.post("/processes/record_destroy/instances", "ops_head", {"data": {}})
    assert r.status_code == 400 and "职责分离" in r.json["message"]


def test_the_witness_is_not_one_of_the_destroyers_and_can_send_the_record_back(api):
    case = api.start("record_destroy", "emp")
    api.walk(case["id"], [("apply", "emp", APPLY), ("head_decide", "ops_head", OK), ("vp_approve", "vp", OK)])
    task = api.open_task(case["id"], "emp", "destroy")
    r = api.post(f"/tasks/{task['id']}/complete", "emp", {"data": {**EXECUTE, "witness": "ops_eng"}})
    assert r.status_code == 400 and "职责分离" in r.json["message"]
    api.walk(
        case["id"],
        [
            ("destroy", "emp", EXECUTE),
            ("witness_confirm", "qg_staff", {"decision": "reject", "comment": "实际为焚烧"}),
            ("destroy", "emp", {**EXECUTE, "method": "burn"}),
            ("witness_confirm", "qg_staff", OK),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed" and done["data"]["method"] == "burn"
