"""事件和服务请求管理 (seed 001 3.1.3; seed 002 index 《事件和服务请求管理程序》, text cut off; ISO 20000-1 8.6.1)
walked through the API by the demo users."""

import re

import pytest

RECORD = {
    "ticket_type": "incident",
    "channel": "phone",
    "reporter": "张三",
    "reporter_department": "fin",
    "reporter_contact": "8001",
    "title": "财务系统无法登录",
    "description": "上午 9 点起财务部全员无法登录财务系统",
    "affected_service": "财务系统",
    "category": "application",
    "urgency": "中",
    "impact": "中",
}
RESOLVED = {"resolve_result": "resolved", "diagnosis": "认证服务证书过期", "resolution": "更新证书并重启认证服务"}
CONFIRMED = {"user_confirmation": "confirmed", "satisfaction": "满意", "user_feedback": "已可登录"}
CLOSE = {"close_code": "resolved", "close_note": "用户确认"}


def open_elements(api, case_id):
    return sorted(t["element_id"] for t in api.case(case_id)["tasks"] if t["state"] == "open")


def notes(api, case_id):
    return [
        (e["data"]["to"], e["data"]["kind"], e["comment"])
        for e in api.case(case_id)["history"]
        if e["type"] == "notified"
    ]


def recorded(api, user="ops_eng", **fields):
    case = api.start("incident", user)
    api.walk(case["id"], [("record", user, {**RECORD, **fields})])
    return case["id"]


def test_happy_path_record_prioritise_assign_resolve_confirm_close(api, clock):
    case = api.start("incident", "ops_eng")
    first = case["tasks"][0]
    assert (first["element_id"], first["candidate_users"]) == (
        "record",
        ["ops_eng"],
    )  # the desk agent who took the call
    api.walk(case["id"], [("record", "ops_eng", RECORD)])

    body = api.case(case["id"])
    data = body["data"]
    assert re.fullmatch(r"INC-2026-\d{4}", data["incident_no"])
    assert data["priority"] == "P3" and data["sla_hours"] == 24  # 中 × 中 → P3, 1 day
    assert data["recorded_at"] == "2026-11-23T09:00:00+08:00"
    assert data["sla_due_at"] == "2026-11-24T09:00:00+08:00"
    assign = api.open_task(case["id"], "tech_eng2", "assign")
    assert assign["candidate_users"] == ["tech_eng2", "ops_eng"]  # the service desk
    assert notes(api, case["id"]) == []  # not a major incident

    api.walk(
        case["id"],
        [
            ("assign", "tech_eng2", {"support_group": "tech", "assignee": "tech_eng", "assign_note": "请技术部处理"}),
            ("resolve", "tech_eng", RESOLVED),
            ("confirm", "ops_eng", CONFIRMED),
            ("close", "tech_eng2", CLOSE),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert api.completions(case["id"]) == [
        ("record", "ops_eng", None),
        ("assign", "tech_eng2", None),
        ("resolve", "tech_eng", None),
        ("confirm", "ops_eng", None),
        ("close", "tech_eng2", None),
    ]
    record = next(e for e in done["history"] if e["type"] == "task_completed" and e["element_id"] == "record")
    assert record["data"]["reporter"] == "张三" and record["data"]["urgency"] == "中"  # the 记录单 kept as filed
    assert api.children(case["id"]) == []


@pytest.mark.parametrize(
    "urgency,impact,priority,hours",
    [
        ("高", "高", "P1", 4),
        ("高", "中", "P2", 8),
        ("中", "高", "P2", 8),
        ("高", "低", "P3", 24),
        ("中", "中", "P3", 24),
        ("低", "高", "P3", 24),
        ("中", "低", "P4", 72),
        ("低", "中", "P4", 72),
        ("低", "低", "P4", 72),
    ],
)
def test_priority_matrix_from_the_decision_table(api, clock, urgency, impact, priority, hours):
    case_id = recorded(api, urgency=urgency, impact=impact)
    data = api.case(case_id)["data"]
    assert (data["priority"], data["sla_hours"]) == (priority, hours)
    assert open_elements(api, case_id) == ["assign"]  # no timer runs before the incident is assigned


def test_numbers_are_consecutive(api, clock):
    first, second = (api.case(recorded(api))["data"]["incident_no"] for _ in range(2))
    assert int(second[-4:]) == int(first[-4:]) + 1


def test_only_the_service_desk_records_incidents(api, clock):
    r = api.post("/processes/incident/instances", "emp", {"data": {}})
    assert r.status_code == 403 and "service_desk" in r.json["message"]


def test_the_resolver_does_not_confirm_their_own_resolution(api, clock):
    case_id = recorded(api)
    api.walk(
        case_id,
        [("assign", "ops_eng", {"support_group": "desk", "assignee": "ops_eng"}), ("resolve", "ops_eng", RESOLVED)],
    )
    confirm = api.open_task(case_id, "tech_eng2", "confirm")
    assert confirm["candidate_users"] == ["tech_eng2"]  # the other desk agent, not ops_eng who resolved it
    r = api.post(f"/tasks/{confirm['id']}/complete", "ops_eng", {"data": CONFIRMED})
    assert r.status_code == 403
    api.walk(case_id, [("confirm", "tech_eng2", CONFIRMED), ("close", "ops_eng", CLOSE)])
    assert api.case(case_id)["status"] == "completed"


def test_not_resolved_returns_to_the_resolver_and_reassignment_returns_to_the_desk(api, clock):
    case_id = recorded(api)
    api.walk(
        case_id,
        [
            ("assign", "ops_eng", {"support_group": "ops", "assignee": "emp"}),
            ("resolve", "emp", {"resolve_result": "reassign", "diagnosis": "涉及证书，超出运维权限"}),
        ],
    )
    assert open_elements(api, case_id) == ["assign"]  # back to the service desk, who assigns someone else
    api.walk(
        case_id,
        [
            ("assign", "ops_eng", {"support_group": "tech", "assignee": "tech_eng"}),
            ("resolve", "tech_eng", RESOLVED),
            ("confirm", "tech_eng2", {"user_confirmation": "not_resolved", "user_feedback": "部分用户仍无法登录"}),
        ],
    )
    again = api.open_task(case_id, "tech_eng", "resolve")
    assert again["candidate_users"] == ["tech_eng"]  # the same resolver takes it up again
    api.walk(
        case_id,
        [
            ("resolve", "tech_eng", {**RESOLVED, "resolution": "同时清理客户端缓存"}),
            ("confirm", "ops_eng", CONFIRMED),
            ("close", "ops_eng", CLOSE),
        ],
    )
    assert [s[:2] for s in api.completions(case_id)] == [
        ("record", "ops_eng"),
        ("assign", "ops_eng"),
        ("resolve", "emp"),
        ("assign", "ops_eng"),
        ("resolve", "tech_eng"),
        ("confirm", "tech_eng2"),
        ("resolve", "tech_eng"),
        ("confirm", "ops_eng"),
        ("close", "ops_eng"),
    ]
    body = api.case(case_id)
    assert body["status"] == "completed"
    assert body["data"]["resolution"] == "同时清理客户端缓存"


def test_sla_escalation_to_incident_manager_then_it_head(api, clock):
    case_id = recorded(api, urgency="高", impact="中")  # P2: 8 hours from 09:00
    api.walk(case_id, [("assign", "ops_eng", {"support_group": "tech", "assignee": "tech_eng2"})])
    clock.advance(hours=5, minutes=59)
    assert notes(api, case_id) == []
    clock.advance(minutes=2)  # 15:01: 75 % of the 8 hours used
    assert notes(api, case_id) == [
        (
            ["tech_eng"],
            "escalation",
            f"事件 {api.case(case_id)['data']['incident_no']}（P2）已用去 75% 的SLA解决时限（8 小时），尚未解决",
        )
    ]
    assert open_elements(api, case_id) == ["resolve"]  # the resolver keeps working: not interrupted
    clock.advance(hours=2)  # 17:01: the target is missed
    sent = notes(api, case_id)
    assert len(sent) == 2 and sent[1][:2] == (["tech_head"], "escalation") and "已超过SLA解决时限" in sent[1][2]
    fired = [e["element_id"] for e in api.case(case_id)["history"] if e["type"] == "timer_fired"]
    assert fired == ["sla_warning", "sla_breach"]
    api.walk(
        case_id, [("resolve", "tech_eng2", RESOLVED), ("confirm", "ops_eng", CONFIRMED), ("close", "ops_eng", CLOSE)]
    )
    assert api.case(case_id)["status"] == "completed"
    clock.advance(days=5)
    assert len(notes(api, case_id)) == 2  # resolved: its timers are gone


def test_resolved_in_time_sends_no_escalation(api, clock):
    case_id = recorded(api, urgency="低", impact="低")  # P4: 3 days
    api.walk(
        case_id,
        [("assign", "ops_eng", {"support_group": "desk", "assignee": "tech_eng2"}), ("resolve", "tech_eng2", RESOLVED)],
    )
    clock.advance(days=4)
    api.walk(case_id, [("confirm", "ops_eng", CONFIRMED), ("close", "ops_eng", CLOSE)])
    assert notes(api, case_id) == []


def test_major_incident_notifies_the_manager_and_raises_a_problem(api, clock):
    case_id = recorded(api, urgency="高", impact="高", title="核心网络中断")
    body = api.case(case_id)
    incident_no = body["data"]["incident_no"]
    assert body["data"]["priority"] == "P1"
    assert notes(api, case_id) == [
        (["tech_eng"], "escalation", f"重大事件（P1）{incident_no}：核心网络中断，请事件经理立即协调处理")
    ]
    api.walk(
        case_id,
        [
            ("assign", "ops_eng", {"support_group": "tech", "assignee": "tech_eng"}),
            ("resolve", "tech_eng", {**RESOLVED, "is_workaround": True}),
            ("confirm", "tech_eng2", CONFIRMED),
        ],
    )
    review = api.open_task(case_id, "tech_eng", "major_review")
    assert review["candidate_users"] == ["tech_eng"]  # the incident manager
    api.walk(
        case_id,
        [
            (
                "major_review",
                "tech_eng",
                {
                    "review_summary": "核心交换机故障，全公司断网 2 小时",
                    "raise_problem": True,
                    "problem_description": "核心交换机反复宕机，需查找根本原因",
                },
            ),
            ("close", "ops_eng", {"close_code": "workaround", "close_note": "临时切换备用交换机"}),
        ],
    )
    assert api.case(case_id)["status"] == "completed"
    assert [s[0] for s in api.completions(case_id)] == [
        "record",
        "assign",
        "resolve",
        "confirm",
        "major_review",
        "close",
    ]
    [problem] = api.children(case_id)
    assert problem["process_key"] == "problem" and problem["parent_instance_id"] == case_id
    assert problem["data"]["title"] == f"重大事件 {incident_no}：核心网络中断"
    assert problem["data"]["description"] == "核心交换机反复宕机，需查找根本原因"
    assert problem["data"]["source_no"] == incident_no
    [task] = problem["tasks"]
    assert (task["element_id"], task["candidate_users"]) == ("record", ["tech_eng"])  # the problem manager


def test_major_incident_review_without_a_problem(api, clock):
    case_id = recorded(api, urgency="高", impact="高")
    api.walk(
        case_id,
        [
            ("assign", "ops_eng", {"support_group": "tech", "assignee": "tech_eng"}),
            ("resolve", "tech_eng", RESOLVED),
            ("confirm", "tech_eng2", CONFIRMED),
            ("major_review", "tech_eng", {"review_summary": "原因已明确，无需问题管理"}),
            ("close", "ops_eng", CLOSE),
        ],
    )
    assert api.case(case_id)["status"] == "completed"
    assert api.children(case_id) == []
