"""发布和部署管理 (seed 001 3.1.6; seed 002 index 《发布和部署管理程序》, text cut off; ISO 20000-1 8.5.3)
walked through the API by the demo users."""

import re

PLAN = {
    "release_name": "财务系统 V2.3",
    "release_version": "2.3.0",
    "release_type": "minor",
    "related_changes": "CHG-2026-0012",
    "release_scope": "报表模块与证书更新",
    "planned_date": "2026-11-28",
    "acceptance_criteria": "报表核对无差异，登录正常",
    "rollback_plan": "恢复 2.2.5 安装包与数据库快照",
    "builder": "tech_eng2",
    "tester": "ops_eng",
    "deployer": "ops_head",
}
BUILT = {"build_version": "2.3.0-b17", "build_date": "2026-11-24", "build_notes": "含报表、证书两个组件"}
PASSED = {"test_result": "pass", "test_scope": "回归 120 条用例"}
DEPLOYED = {"deploy_date": "2026-11-28", "deploy_environment": "production", "deploy_notes": "22:00 部署完成"}
VERIFIED = {"verification_result": "pass", "verification_notes": "报表核对一致"}


def open_tasks(api, case_id):
    return [(t["element_id"], t["candidate_users"]) for t in api.case(case_id)["tasks"] if t["state"] == "open"]


def planned(api):
    case = api.start("release", "tech_eng")
    api.walk(case["id"], [("plan", "tech_eng", PLAN)])
    return case["id"]


def test_plan_build_test_approve_deploy_verify(api, clock):
    case = api.start("release", "tech_eng")
    assert re.fullmatch(r"REL-2026-\d{3}", case["data"]["release_no"])
    assert [(t["element_id"], t["candidate_users"]) for t in case["tasks"]] == [("plan", ["tech_eng"])]
    api.walk(
        case["id"],
        [
            ("plan", "tech_eng", PLAN),
            ("build", "tech_eng2", BUILT),
            ("test", "ops_eng", PASSED),
            ("approve", "tech_head", {"decision": "approve", "comment": "同意周六上线"}),
            ("deploy", "ops_head", DEPLOYED),
            ("verify", "tech_eng", VERIFIED),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed"
    assert api.completions(case["id"]) == [
        ("plan", "tech_eng", None),
        ("build", "tech_eng2", None),
        ("test", "ops_eng", None),
        ("approve", "tech_head", "approve"),
        ("deploy", "ops_head", None),
        ("verify", "tech_eng", None),
    ]
    plan = next(e for e in done["history"] if e["element_id"] == "plan" and e["type"] == "task_completed")
    assert plan["data"]["related_changes"] == "CHG-2026-0012"  # the 发布计划 as filed


def test_failed_test_goes_back_to_the_builder_until_it_passes(api, clock):
    case_id = planned(api)
    api.walk(
        case_id,
        [
            ("build", "tech_eng2", BUILT),
            ("test", "ops_eng", {"test_result": "fail", "test_scope": "回归 120 条", "defects": "月报合计错误"}),
        ],
    )
    assert open_tasks(api, case_id) == [("build", ["tech_eng2"])]
    api.walk(
        case_id,
        [
            ("build", "tech_eng2", {**BUILT, "build_version": "2.3.0-b18"}),
            ("test", "ops_eng", {"test_result": "fail", "test_scope": "回归 120 条", "defects": "季报仍有误差"}),
            ("build", "tech_eng2", {**BUILT, "build_version": "2.3.0-b19"}),
            ("test", "ops_eng", PASSED),
            ("approve", "tech_head", {"decision": "approve"}),
            ("deploy", "ops_head", DEPLOYED),
            ("verify", "tech_eng", VERIFIED),
        ],
    )
    body = api.case(case_id)
    assert body["status"] == "completed"
    assert body["data"]["build_version"] == "2.3.0-b19"
    assert [s[0] for s in api.completions(case_id)] == [
        "plan",
        "build",
        "test",
        "build",
        "test",
        "build",
        "test",
        "approve",
        "deploy",
        "verify",
    ]


def test_rejected_approval_goes_back_to_the_release_manager(api, clock):
    case_id = planned(api)
    api.walk(case_id, [("build", "tech_eng2", BUILT), ("test", "ops_eng", PASSED)])
    task = api.open_task(case_id, "tech_head", "approve")
    api.complete(task["id"], "tech_head", {"decision": "reject", "comment": "月末结账期间不得上线，请改期"})
    assert open_tasks(api, case_id) == [("plan", ["tech_eng"])]
    api.walk(
        case_id,
        [
            ("plan", "tech_eng", {**PLAN, "planned_date": "2026-12-05"}),
            ("build", "tech_eng2", BUILT),
            ("test", "ops_eng", PASSED),
            ("approve", "tech_head", {"decision": "approve"}),
            ("deploy", "ops_head", DEPLOYED),
            ("verify", "tech_eng", VERIFIED),
        ],
    )
    assert api.case(case_id)["status"] == "completed"
    assert ("approve", "tech_head", "reject") in api.completions(case_id)


def test_failed_verification_is_rolled_back_and_replanned(api, clock):
    case_id = planned(api)
    api.walk(
        case_id,
        [
            ("build", "tech_eng2", BUILT),
            ("test", "ops_eng", PASSED),
            ("approve", "tech_head", {"decision": "approve"}),
            ("deploy", "ops_head", DEPLOYED),
            ("verify", "tech_eng", {"verification_result": "fail", "verification_notes": "生产报表与账务不一致"}),
        ],
    )
    assert open_tasks(api, case_id) == [("rollback", ["ops_head"])]  # the deployer rolls back
    api.walk(
        case_id,
        [
            (
                "rollback",
                "ops_head",
                {"rollback_date": "2026-11-28", "rollback_steps": "恢复 2.2.5 与快照", "service_restored": True},
            ),
        ],
    )
    assert open_tasks(api, case_id) == [("plan", ["tech_eng"])]  # re-plan
    api.walk(
        case_id,
        [
            ("plan", "tech_eng", {**PLAN, "release_version": "2.3.1"}),
            ("build", "tech_eng2", BUILT),
            ("test", "ops_eng", PASSED),
            ("approve", "tech_head", {"decision": "approve"}),
            ("deploy", "ops_head", DEPLOYED),
            ("verify", "tech_eng", VERIFIED),
        ],
    )
    body = api.case(case_id)
    assert body["status"] == "completed"
    assert body["data"]["release_version"] == "2.3.1"
    assert [s[0] for s in api.completions(case_id)][:7] == [
        "plan",
        "build",
        "test",
        "approve",
        "deploy",
        "verify",
        "rollback",
    ]


def test_the_builder_does_not_test_their_own_build(api, clock):
    case = api.start("release", "tech_eng")
    task = api.open_task(case["id"], "tech_eng", "plan")
    r = api.post(f"/tasks/{task['id']}/complete", "tech_eng", {"data": {**PLAN, "tester": "tech_eng2"}})
    assert r.status_code == 400 and "职责分离" in r.json["message"]
    assert open_tasks(api, case["id"]) == [("plan", ["tech_eng"])]
    api.complete(task["id"], "tech_eng", PLAN)
    assert open_tasks(api, case["id"]) == [("build", ["tech_eng2"])]


def test_only_the_release_manager_starts_a_release(api, clock):
    r = api.post("/processes/release/instances", "emp", {"data": {}})
    assert r.status_code == 403 and "pm_release" in r.json["message"]
