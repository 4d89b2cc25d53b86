"""问题管理 (seed 001 3.1.4; seed 002 index 《问题管理程序》 and 《问题记录表》 of 4.2, text cut off;
ISO 20000-1 8.6.3) walked through the API by the demo users."""

import re

REPORT = {
    "title": "打印服务每周宕机",
    "description": "近一个月打印服务每周一上午宕机，已记录 4 起事件",
    "source": "trend",
    "source_no": "INC-2026-0007",
}
RECORD = {
    **REPORT,
    "category": "software",
    "priority": "中",
    "affected_services": "打印服务",
    "analyst": "ops_eng",
    "target_date": "2026-11-27",
}
ANALYSIS = {
    "analysis_method": "5why",
    "root_cause": "周末日志轮转占满磁盘",
    "workaround": "手工清理日志",
    "solution_proposal": "调整日志轮转策略并扩容磁盘",
}
CONFIRM = {"decision": "approve", "known_error_desc": "磁盘占满导致打印服务宕机", "change_needed": False}
CLOSE = {"problem_outcome": "closed", "review_summary": "一个月内未再发生", "kedb_updated": True}


def start_reported(api, user="tech_eng2"):
    case = api.start("problem", user)
    api.walk(case["id"], [("report", user, REPORT)])
    return case["id"]


def test_reported_problem_analysed_known_error_change_raised_and_closed(api, clock):
    case = api.start("problem", "tech_eng2")  # a service desk agent spots the trend
    assert [(t["element_id"], t["candidate_users"]) for t in case["tasks"]] == [("report", ["tech_eng2"])]
    api.walk(case["id"], [("report", "tech_eng2", REPORT)])
    record = api.open_task(case["id"], "tech_eng", "record")
    assert record["candidate_users"] == ["tech_eng"]  # the problem manager
    api.walk(
        case["id"],
        [
            ("record", "tech_eng", RECORD),
            ("analyse", "ops_eng", ANALYSIS),  # the analyst chosen in the 问题记录表
            ("known_error", "tech_eng", {**CONFIRM, "change_needed": True}),
        ],
    )
    body = api.case(case["id"])
    problem_no = body["data"]["problem_no"]
    assert re.fullmatch(r"PRB-2026-\d{4}", problem_no)
    assert re.fullmatch(r"KE-2026-\d{4}", body["data"]["known_error_no"])

    [change] = api.children(case["id"])
    assert change["process_key"] == "change" and change["parent_instance_id"] == case["id"]
    assert change["data"]["source"] == "problem" and change["data"]["source_no"] == problem_no
    assert change["data"]["title"] == f"问题 {problem_no} 的永久解决方案：打印服务每周宕机"
    assert change["data"]["description"] == "根本原因：周末日志轮转占满磁盘\n永久解决方案：调整日志轮转策略并扩容磁盘"
    assert change["initiator"] == "ops_eng"  # no requester chosen: the analyst fills the RFC
    assert [(t["element_id"], t["candidate_users"]) for t in change["tasks"]] == [("submit_rfc", ["ops_eng"])]

    api.walk(case["id"], [("review", "tech_eng", {**CLOSE, "change_result": f"{change['data']['change_no']} 已实施"})])
    done = api.case(case["id"])
    assert done["status"] == "completed"
    assert api.completions(case["id"]) == [
        ("report", "tech_eng2", None),
        ("record", "tech_eng", None),
        ("analyse", "ops_eng", None),
        ("known_error", "tech_eng", "approve"),
        ("review", "tech_eng", None),
    ]
    filed = next(e for e in done["history"] if e["element_id"] == "record" and e["type"] == "task_completed")
    assert filed["data"]["analyst"] == "ops_eng" and filed["data"]["target_date"] == "2026-11-27"  # 问题记录表


def test_problem_manager_names_who_fills_the_change_request(api, clock):
    case_id = start_reported(api)
    api.walk(
        case_id,
        [
            ("record", "tech_eng", RECORD),
            ("analyse", "ops_eng", ANALYSIS),
            ("known_error", "tech_eng", {**CONFIRM, "change_needed": True, "rfc_requester": "ops_head"}),
        ],
    )
    [change] = api.children(case_id)
    assert change["initiator"] == "ops_head"
    assert [(t["element_id"], t["candidate_users"]) for t in change["tasks"]] == [("submit_rfc", ["ops_head"])]
    api.walk(case_id, [("review", "tech_eng", CLOSE)])
    assert api.case(case_id)["status"] == "completed"


def test_no_change_needed_raises_no_change(api, clock):
    case_id = start_reported(api)
    api.walk(
        case_id,
        [
            ("record", "tech_eng", RECORD),
            ("analyse", "ops_eng", ANALYSIS),
            ("known_error", "tech_eng", CONFIRM),
            ("review", "tech_eng", CLOSE),
        ],
    )
    assert api.case(case_id)["status"] == "completed"
    assert api.children(case_id) == []


def test_insufficient_analysis_and_unresolved_problem_go_back_to_the_analyst(api, clock):
    case_id = start_reported(api)
    api.walk(case_id, [("record", "tech_eng", RECORD), ("analyse", "ops_eng", ANALYSIS)])
    task = api.open_task(case_id, "tech_eng", "known_error")
    r = api.post(f"/tasks/{task['id']}/complete", "tech_eng", {"data": {"decision": "reject"}})
    assert r.status_code == 400 and "comment" in r.json["errors"]  # a rejection says why
    api.complete(task["id"], "tech_eng", {"decision": "reject", "comment": "未说明磁盘为何在周末占满"})
    again = api.open_task(case_id, "ops_eng", "analyse")
    assert again["candidate_users"] == ["ops_eng"]
    api.walk(
        case_id,
        [
            ("analyse", "ops_eng", {**ANALYSIS, "root_cause": "周末备份任务日志未压缩，占满磁盘"}),
            ("known_error", "tech_eng", CONFIRM),
        ],
    )
    first_known_error_no = api.case(case_id)["data"]["known_error_no"]
    api.walk(
        case_id,
        [
            ("review", "tech_eng", {"problem_outcome": "reanalyse", "review_summary": "本周一再次宕机"}),
            ("analyse", "ops_eng", {**ANALYSIS, "root_cause": "备份任务与日志轮转时间冲突"}),
            ("known_error", "tech_eng", CONFIRM),
            ("review", "tech_eng", CLOSE),
        ],
    )
    body = api.case(case_id)
    assert body["status"] == "completed"
    assert [s[:2] for s in api.completions(case_id)] == [
        ("report", "tech_eng2"),
        ("record", "tech_eng"),
        ("analyse", "ops_eng"),
        ("known_error", "tech_eng"),
        ("analyse", "ops_eng"),
        ("known_error", "tech_eng"),
        ("review", "tech_eng"),
        ("analyse", "ops_eng"),
        ("known_error", "tech_eng"),
        ("review", "tech_eng"),
    ]
    assert body["data"]["root_cause"] == "备份任务与日志轮转时间冲突"
    assert body["data"]["known_error_no"] == first_known_error_no  # the known error keeps its number


def test_problem_manager_is_told_when_analysis_passes_the_target_date(api, clock):
    case_id = start_reported(api)
    api.walk(case_id, [("record", "tech_eng", {**RECORD, "target_date": "2026-11-24"})])
    clock.advance(days=1, hours=8, minutes=59)  # 2026-11-24 17:59
    assert [e for e in api.case(case_id)["history"] if e["type"] == "notified"] == []
    clock.advance(minutes=2)
    body = api.case(case_id)
    [note] = [e for e in body["history"] if e["type"] == "notified"]
    assert note["data"] == {"to": ["tech_eng"], "kind": "escalation"}
    assert note["comment"] == f"问题 {body['data']['problem_no']} 的根本原因分析已超过目标日期 2026-11-24"
    api.walk(
        case_id, [("analyse", "ops_eng", ANALYSIS), ("known_error", "tech_eng", CONFIRM), ("review", "tech_eng", CLOSE)]
    )
    assert api.case(case_id)["status"] == "completed"


def test_ordinary_employees_cannot_open_problems(api, clock):
    r = api.post("/processes/problem/instances", "emp", {"data": {}})
    assert r.status_code == 403 and "pm_problem" in r.json["message"]
