"""变更管理 (seed 001 3.1.5; seed 002 index 《变更管理程序》, text cut off, and 《新服务或变更服务控制程序》4.3/4.5;
ISO 20000-1 8.5.1) walked through the API by the demo users."""

import re

RFC = {
    "title": "核心交换机固件升级",
    "description": "将核心交换机固件升级到 9.3",
    "reason": "修复已知的端口宕机缺陷",
    "source": "other",
    "affected_services": "全公司网络",
    "requested_date": "2026-11-30",
}
ASSESS = {
    "decision": "approve",
    "change_type": "normal",
    "risk_level": "中",
    "impact_analysis": "夜间升级，影响 30 分钟",
    "implementation_plan": "22:00 备份配置后升级",
    "backout_plan": "回刷旧固件并恢复配置",
    "implementer": "ops_eng",
    "planned_start": "2026-11-24",
    "planned_end": "2026-11-25",
}
IMPLEMENTED = {
    "actual_start": "2026-11-24",
    "actual_end": "2026-11-24",
    "implementation_result": "as_planned",
    "implementation_notes": "22:00–22:40 完成升级",
}
SUCCESS = {"review_result": "success", "review_summary": "端口宕机未再发生"}
CAB = {
    "cab_meeting_date": "2026-11-24",
    "cab_members": ["tech_head", "ops_head", "dev_head"],
    "cab_agenda": "评审核心交换机升级",
}


def approve(comment="同意"):
    return {"cab_vote": {"decision": "approve", "comment": comment}}


def sign(api, case_id, user, vote):
    """Complete this member's own CAB task (the parallel tasks share one element id)."""
    [task] = [
        t
        for t in api.case(case_id)["tasks"]
        if t["state"] == "open" and t["element_id"] == "cab_review" and user in t["candidate_users"]
    ]
    return api.complete(task["id"], user, vote)


def open_tasks(api, case_id):
    return sorted(
        (t["element_id"], tuple(t["candidate_users"])) for t in api.case(case_id)["tasks"] if t["state"] == "open"
    )


def submitted(api, user="emp", rfc=RFC):
    case = api.start("change", user)
    api.walk(case["id"], [("submit_rfc", user, rfc)])
    return case["id"]


def test_normal_change_approved_by_change_manager_implemented_and_reviewed(api, clock):
    case = api.start("change", "emp")  # anyone may request a change
    assert [(t["element_id"], t["candidate_users"]) for t in case["tasks"]] == [("submit_rfc", ["emp"])]
    assert re.fullmatch(r"CHG-2026-\d{4}", case["data"]["change_no"])
    api.walk(
        case["id"],
        [
            ("submit_rfc", "emp", RFC),
            ("assess", "tech_eng", ASSESS),  # the change manager accepts, assesses and approves
            ("implement", "ops_eng", IMPLEMENTED),  # the implementer named in the assessment
            ("review", "tech_eng", SUCCESS),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed"
    assert api.completions(case["id"]) == [
        ("submit_rfc", "emp", None),
        ("assess", "tech_eng", "approve"),
        ("implement", "ops_eng", None),
        ("review", "tech_eng", None),
    ]
    rfc = next(e for e in done["history"] if e["element_id"] == "submit_rfc" and e["type"] == "task_completed")
    assert rfc["data"]["reason"] == "修复已知的端口宕机缺陷"  # the 变更申请单 as filed


def test_standard_change_goes_straight_to_implementation(api, clock):
    case_id = submitted(api, rfc={**RFC, "title": "新员工开通VPN账号"})
    api.walk(case_id, [("assess", "tech_eng", {**ASSESS, "change_type": "standard", "risk_level": "低"})])
    assert open_tasks(api, case_id) == [("implement", ("ops_eng",))]
    api.walk(case_id, [("implement", "ops_eng", IMPLEMENTED), ("review", "tech_eng", SUCCESS)])
    assert api.case(case_id)["status"] == "completed"


def test_major_change_needs_every_cab_member(api, clock):
    case_id = submitted(api)
    api.walk(case_id, [("assess", "tech_eng", {**ASSESS, "change_type": "major", "risk_level": "高"})])
    assert open_tasks(api, case_id) == [("convene_cab", ("tech_eng",))]  # convened by the change manager
    api.walk(case_id, [("convene_cab", "tech_eng", CAB)])
    assert open_tasks(api, case_id) == [
        ("cab_review", ("dev_head",)),
        ("cab_review", ("ops_head",)),
        ("cab_review", ("tech_head",)),
    ]  # one signature each, in parallel
    sign(api, case_id, "tech_head", approve())
    sign(api, case_id, "dev_head", approve())
    assert open_tasks(api, case_id) == [("cab_review", ("ops_head",))]  # waits for the last member
    sign(api, case_id, "ops_head", approve("注意备份"))
    assert open_tasks(api, case_id) == [("implement", ("ops_eng",))]
    api.walk(case_id, [("implement", "ops_eng", IMPLEMENTED), ("review", "tech_eng", SUCCESS)])
    body = api.case(case_id)
    assert body["status"] == "completed"
    assert sorted(v["decision"] for v in body["data"]["cab_votes"]) == ["approve"] * 3
    assert [s[:2] for s in api.completions(case_id)] == [
        ("submit_rfc", "emp"),
        ("assess", "tech_eng"),
        ("convene_cab", "tech_eng"),
        ("cab_review", "tech_head"),
        ("cab_review", "dev_head"),
        ("cab_review", "ops_head"),
        ("implement", "ops_eng"),
        ("review", "tech_eng"),
    ]


def test_one_cab_objection_returns_the_change_to_the_requester(api, clock):
    case_id = submitted(api)
    api.walk(
        case_id,
        [
            ("assess", "tech_eng", {**ASSESS, "change_type": "major"}),
            ("convene_cab", "tech_eng", {**CAB, "cab_members": ["tech_head", "dev_head"]}),
        ],
    )
    sign(api, case_id, "tech_head", approve())
    task = api.open_task(case_id, "dev_head", "cab_review")
    r = api.post(f"/tasks/{task['id']}/complete", "dev_head", {"data": {"cab_vote": {"decision": "reject"}}})
    assert r.status_code == 400  # an objection needs a reason
    api.complete(task["id"], "dev_head", {"cab_vote": {"decision": "reject", "comment": "与月末结账冲突，请改期"}})
    assert open_tasks(api, case_id) == [("submit_rfc", ("emp",))]
    assert "与月末结账冲突，请改期" in [v.get("comment") for v in api.case(case_id)["data"]["cab_votes"]]
    api.walk(
        case_id,
        [
            ("submit_rfc", "emp", {**RFC, "requested_date": "2026-12-05"}),
            ("assess", "tech_eng", {**ASSESS, "change_type": "major"}),
            ("convene_cab", "tech_eng", {**CAB, "cab_members": ["tech_head", "dev_head"]}),
        ],
    )
    sign(api, case_id, "tech_head", approve())
    sign(api, case_id, "dev_head", approve("改期后同意"))
    api.walk(
        case_id,
        [
            ("implement", "ops_eng", IMPLEMENTED),
            ("review", "tech_eng", SUCCESS),
        ],
    )
    body = api.case(case_id)
    assert body["status"] == "completed"
    assert [v["decision"] for v in body["data"]["cab_votes"]] == ["approve", "approve"]  # the second round only
    assert [s[0] for s in api.completions(case_id)].count("submit_rfc") == 2


def test_requester_cannot_sit_on_the_cab_for_their_own_change(api, clock):
    case_id = submitted(api, user="ops_head")
    api.walk(case_id, [("assess", "tech_eng", {**ASSESS, "change_type": "major"})])
    task = api.open_task(case_id, "tech_eng", "convene_cab")
    r = api.post(f"/tasks/{task['id']}/complete", "tech_eng", {"data": CAB})  # CAB includes ops_head
    assert r.status_code == 400 and "职责分离" in r.json["message"]
    assert open_tasks(api, case_id) == [("convene_cab", ("tech_eng",))]  # nothing happened
    api.walk(case_id, [("convene_cab", "tech_eng", {**CAB, "cab_members": ["tech_head", "dev_head"]})])
    sign(api, case_id, "tech_head", approve())
    sign(api, case_id, "dev_head", approve())
    api.walk(case_id, [("implement", "ops_eng", IMPLEMENTED), ("review", "tech_eng", SUCCESS)])
    assert api.case(case_id)["status"] == "completed"


def test_change_manager_returns_an_incomplete_request(api, clock):
    case_id = submitted(api)
    task = api.open_task(case_id, "tech_eng", "assess")
    api.complete(task["id"], "tech_eng", {**ASSESS, "decision": "reject", "comment": "请补充受影响的业务系统清单"})
    assert open_tasks(api, case_id) == [("submit_rfc", ("emp",))]
    api.walk(
        case_id,
        [
            ("submit_rfc", "emp", {**RFC, "affected_services": "全公司网络、财务系统、OA"}),
            ("assess", "tech_eng", ASSESS),
            ("implement", "ops_eng", IMPLEMENTED),
            ("review", "tech_eng", SUCCESS),
        ],
    )
    assert api.completions(case_id)[:3] == [
        ("submit_rfc", "emp", None),
        ("assess", "tech_eng", "reject"),
        ("submit_rfc", "emp", None),
    ]
    assert api.case(case_id)["status"] == "completed"


def test_failed_change_is_backed_out_then_resubmitted_or_closed(api, clock):
    case_id = submitted(api)
    api.walk(
        case_id,
        [
            ("assess", "tech_eng", ASSESS),
            ("implement", "ops_eng", {**IMPLEMENTED, "implementation_result": "with_issues"}),
            (
                "review",
                "tech_eng",
                {"review_result": "failed", "caused_incidents": True, "review_summary": "升级后二层环路，网络中断"},
            ),
        ],
    )
    assert open_tasks(api, case_id) == [("backout", ("ops_eng",))]  # the implementer backs it out
    api.walk(
        case_id,
        [
            (
                "backout",
                "ops_eng",
                {"backout_date": "2026-11-24", "backout_steps": "回刷 9.1 固件", "service_restored": True},
            ),
            ("backout_review", "tech_eng", {"backout_next": "resubmit", "backout_review_note": "需先在测试环境验证"}),
        ],
    )
    assert open_tasks(api, case_id) == [("submit_rfc", ("emp",))]
    api.walk(
        case_id,
        [
            ("submit_rfc", "emp", RFC),
            ("assess", "tech_eng", ASSESS),
            ("implement", "ops_eng", IMPLEMENTED),
            ("review", "tech_eng", {"review_result": "failed", "review_summary": "仍有环路"}),
            ("backout", "ops_eng", {"backout_date": "2026-11-25", "backout_steps": "回刷 9.1 固件"}),
            (
                "backout_review",
                "tech_eng",
                {"backout_next": "close", "backout_review_note": "放弃本次升级，转问题管理"},
            ),
        ],
    )
    body = api.case(case_id)
    assert body["status"] == "completed"
    assert [e["element_id"] for e in body["history"] if e["type"] == "task_completed"][-2:] == [
        "backout",
        "backout_review",
    ]
    assert body["data"]["backout_next"] == "close"


def test_change_manager_is_told_when_implementation_overruns(api, clock):
    case_id = submitted(api)
    api.walk(case_id, [("assess", "tech_eng", {**ASSESS, "planned_end": "2026-11-24"})])
    clock.advance(days=1, hours=8, minutes=59)  # 2026-11-24 17:59
    assert [e for e in api.case(case_id)["history"] if e["type"] == "notified"] == []
    clock.advance(minutes=2)
    body = api.case(case_id)
    [note] = [e for e in body["history"] if e["type"] == "notified"]
    assert note["data"] == {"to": ["tech_eng"], "kind": "escalation"}
    assert note["comment"] == f"变更 {body['data']['change_no']} 已超过计划完成日 2026-11-24 仍未完成实施"
    assert open_tasks(api, case_id) == [("implement", ("ops_eng",))]  # still the implementer's
    api.walk(case_id, [("implement", "ops_eng", IMPLEMENTED), ("review", "tech_eng", SUCCESS)])
    assert api.case(case_id)["status"] == "completed"
