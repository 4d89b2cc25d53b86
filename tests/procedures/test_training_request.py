"""培训追加审批 (《培训控制程序》4.2.3) walked through the API by the demo users."""

import pytest

APPLY = {
    "department": "ops",
    "course": "Kubernetes 运维",
    "reason": "新上线容器平台，年度计划未包含",
    "content": "容器编排、监控与故障处理",
    "trainees": ["ops_eng", "emp"],
    "kind": "external",
    "start_date": "2026-12-10",
    "end_date": "2026-12-12",
    "place": "北京",
    "trainer": "某培训机构",
    "cost": 6000,
}
ORGANISE = {
    "confirmed_date": "2026-12-10",
    "confirmed_place": "北京某培训中心",
    "arrangement": "已通知参训人员，按外出培训流程报销",
    "added_to_plan": True,
}


def test_applicant_department_vp_gm_then_hr_organises(api):
    case = api.start("training_request", "ops_head")
    first = api.open_task(case["id"], "ops_head", "apply")
    assert first["assignee"] == "ops_head"  # the requesting department fills the form itself

    api.walk(
        case["id"],
        [
            ("apply", "ops_head", APPLY),
            ("vp_review", "vp", {"decision": "approve", "comment": "同意"}),
            ("gm_approve", "gm", {"decision": "approve"}),
        ],
    )
    organise = api.open_task(case["id"], "hr_head", "organise")
    assert organise["candidate_users"] == ["hr_head", "hr_trainer"]  # 人力资源部 organises
    api.complete(organise["id"], "hr_trainer", ORGANISE)

    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert api.completions(case["id"]) == [
        ("apply", "ops_head", None),
        ("vp_review", "vp", "approve"),
        ("gm_approve", "gm", "approve"),
        ("organise", "hr_trainer", None),
    ]
    assert done["data"]["added_to_plan"] is True and done["data"]["cost"] == 6000
    record = next(e for e in done["history"] if e["element_id"] == "apply")  # the 《培训审批表》 as submitted
    assert record["data"]["trainees"] == ["ops_eng", "emp"]


def test_only_the_vp_reviews_and_only_the_gm_approves(api):
    case = api.start("training_request", "ops_head")
    api.walk(case["id"], [("apply", "ops_head", APPLY)])
    task = api.open_task(case["id"], "vp", "vp_review")
    assert task["candidate_users"] == ["vp"]
    assert api.post(f"/tasks/{task['id']}/complete", "gm", {"data": {"decision": "approve"}}).status_code == 403
    api.complete(task["id"], "vp", {"decision": "approve"})
    assert api.open_task(case["id"], "gm", "gm_approve")["candidate_users"] == ["gm"]


@pytest.mark.parametrize(
    "rejecter,element_id,before",
    [
        ("vp", "vp_review", []),
        ("gm", "gm_approve", [("vp_review", "vp", {"decision": "approve"})]),
    ],
)
def test_rejection_returns_to_the_applicant(api, rejecter, element_id, before):
    case = api.start("training_request", "ops_head")
    api.walk(case["id"], [("apply", "ops_head", APPLY)] + before)
    task = api.open_task(case["id"], rejecter, element_id)
    r = api.post(f"/tasks/{task['id']}/complete", rejecter, {"data": {"decision": "reject"}})
    assert r.status_code == 400 and "comment" in r.json["errors"]  # a rejection needs a reason
    api.complete(task["id"], rejecter, {"decision": "reject", "comment": "费用过高，请压缩预算"})

    back = api.open_task(case["id"], "ops_head", "apply")
    assert back["assignee"] == "ops_head"
    api.walk(
        case["id"],
        [
            ("apply", "ops_head", {**APPLY, "cost": 4000}),
            ("vp_review", "vp", {"decision": "approve"}),
            ("gm_approve", "gm", {"decision": "approve"}),
            ("organise", "hr_head", ORGANISE),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed"
    steps = api.completions(case["id"])
    assert (element_id, rejecter, "reject") in steps
    assert [s[0] for s in steps].count("apply") == 2
    assert done["data"]["cost"] == 4000
