"""业务关系管理 (seed 001 3.1.14 c/d/g; seed 002 index 《业务关系管理程序》, text cut off; ISO 20000-1 8.3.2): a
customer complaint walked through the API by the demo users."""

import re

RECEIVE = {
    "customer_name": "星河制造",
    "customer_contact": "李经理 13800000000",
    "channel": "phone",
    "received_date": "2026-11-23",
    "related_service": "ERP 运维服务",
    "complaint_content": "故障两天无人响应",
    "customer_expectation": "今天内恢复并说明原因",
    "severity": "一般",
    "department": "ops",
}
HANDLED = {
    "cause_analysis": "值班表遗漏",
    "measures": "已恢复并补排值班",
    "reply_content": "致歉并说明整改",
    "reply_date": "2026-11-24",
}
SATISFIED = {"satisfaction_result": "satisfied", "customer_feedback": "认可", "visit_date": "2026-11-25"}
UNSATISFIED = {
    "satisfaction_result": "unsatisfied",
    "customer_feedback": "未说明如何避免再发生",
    "visit_date": "2026-11-25",
}
CLOSE = {"closure_summary": "客户满意，已关闭", "lessons": "值班表发布前复核"}


def open_tasks(api, case_id):
    return [(t["element_id"], t["candidate_users"]) for t in api.case(case_id)["tasks"] if t["state"] == "open"]


def received(api, user="sales", **fields):
    case = api.start("customer_complaint", user)
    api.walk(case["id"], [("receive", user, {**RECEIVE, **fields})])
    return case["id"]


def test_complaint_handled_by_the_responsible_department_and_closed(api, clock):
    case = api.start("customer_complaint", "sales")  # received by the sales manager
    assert re.fullmatch(r"TS-2026-\d{4}", case["data"]["complaint_no"])
    api.walk(case["id"], [("receive", "sales", RECEIVE)])
    assert open_tasks(api, case["id"]) == [("handle", ["ops_head"])]  # head of the department named
    api.walk(
        case["id"],
        [
            ("handle", "ops_head", HANDLED),
            ("satisfaction", "office_head", SATISFIED),  # the business relationship manager checks with the customer
            ("close", "office_head", CLOSE),
        ],
    )
    body = api.case(case["id"])
    assert body["status"] == "completed"
    assert api.completions(case["id"]) == [
        ("receive", "sales", None),
        ("handle", "ops_head", None),
        ("satisfaction", "office_head", None),
        ("close", "office_head", None),
    ]
    filed = next(e for e in body["history"] if e["element_id"] == "receive" and e["type"] == "task_completed")
    assert filed["data"]["complaint_content"] == "故障两天无人响应"  # 客户投诉登记表 as filed
    assert api.children(case["id"]) == []


def test_unsatisfied_customer_escalates_and_the_department_handles_it_again(api, clock):
    case_id = received(api, "office_head", department="impl")
    api.walk(case_id, [("handle", "impl_head", HANDLED), ("satisfaction", "office_head", UNSATISFIED)])
    assert open_tasks(api, case_id) == [("escalate", ["office_head"])]
    api.walk(
        case_id,
        [
            (
                "escalate",
                "office_head",
                {
                    "escalation_review": "客户要求预防措施",
                    "escalation_action": "return_dept",
                    "instructions": "补充预防措施后再次答复",
                },
            ),
        ],
    )
    assert open_tasks(api, case_id) == [("handle", ["impl_head"])]  # handled again by the same department
    api.walk(
        case_id,
        [
            ("handle", "impl_head", {**HANDLED, "measures": "值班表双人复核"}),
            ("satisfaction", "office_head", SATISFIED),
            ("close", "office_head", CLOSE),
        ],
    )
    assert api.case(case_id)["status"] == "completed"
    assert [s[:2] for s in api.completions(case_id)] == [
        ("receive", "office_head"),
        ("handle", "impl_head"),
        ("satisfaction", "office_head"),
        ("escalate", "office_head"),
        ("handle", "impl_head"),
        ("satisfaction", "office_head"),
        ("close", "office_head"),
    ]


def test_overdue_handling_is_taken_back_and_escalated_up_to_the_general_manager(api, clock):
    case_id = received(api, severity="严重")  # to be handled within 2 days
    clock.advance(days=1, hours=23, minutes=59)
    assert open_tasks(api, case_id) == [("handle", ["ops_head"])]
    clock.advance(minutes=2)
    body = api.case(case_id)
    assert [(t["element_id"], t["candidate_users"]) for t in body["tasks"] if t["state"] == "open"] == [
        ("escalate", ["office_head"])
    ]
    assert [e["element_id"] for e in body["history"] if e["type"] in ("timer_fired", "task_cancelled")] == [
        "handle_overdue",
        "handle",
    ]
    api.walk(
        case_id,
        [
            ("escalate", "office_head", {"escalation_review": "运维部两天未处理", "escalation_action": "to_leader"}),
            (
                "leader_handle",
                "gm",
                {"leader_instructions": "运维部今日恢复并书面致歉", "leader_measures": "已督办恢复"},
            ),
            ("satisfaction", "office_head", SATISFIED),
            ("close", "office_head", CLOSE),
        ],
    )
    assert api.case(case_id)["status"] == "completed"
    assert [s[:2] for s in api.completions(case_id)] == [
        ("receive", "sales"),
        ("escalate", "office_head"),
        ("leader_handle", "gm"),
        ("satisfaction", "office_head"),
        ("close", "office_head"),
    ]


def test_major_complaint_is_escalated_after_24_hours(api, clock):
    case_id = received(api, severity="重大")
    clock.advance(hours=24, minutes=1)
    assert open_tasks(api, case_id) == [("escalate", ["office_head"])]
    api.walk(
        case_id,
        [
            ("escalate", "office_head", {"escalation_review": "已与客户沟通", "escalation_action": "brm_resolved"}),
            ("satisfaction", "office_head", {**SATISFIED, "satisfaction_result": "basically"}),
            ("close", "office_head", CLOSE),
        ],
    )
    assert api.case(case_id)["status"] == "completed"


def test_unresolved_complaint_closed_with_a_corrective_action(api, clock):
    case_id = received(api)
    api.walk(
        case_id,
        [
            ("handle", "ops_head", HANDLED),
            ("satisfaction", "office_head", UNSATISFIED),
            (
                "escalate",
                "office_head",
                {"escalation_review": "客户要求赔偿，超出合同约定", "escalation_action": "close_unresolved"},
            ),
            ("close", "office_head", {**CLOSE, "closure_summary": "协商无果，按合同处理", "raise_corrective": True}),
        ],
    )
    body = api.case(case_id)
    assert body["status"] == "completed"
    complaint_no = body["data"]["complaint_no"]
    [action] = api.children(case_id)
    assert action["process_key"] == "corrective_action" and action["parent_instance_id"] == case_id
    started = next(e for e in action["history"] if e["type"] == "instance_started")["data"]
    assert started["department"] == "ops" and started["source"] == "other" and started["source_no"] == complaint_no
    assert started["nonconformity"] == f"客户投诉 {complaint_no}（星河制造）：故障两天无人响应"
    assert action["status"] == "running" and action["tasks"], action["error"]


def test_only_the_relationship_manager_or_sales_receive_complaints(api, clock):
    r = api.post("/processes/customer_complaint/instances", "emp", {"data": {}})
    assert r.status_code == 403 and "pm_brm" in r.json["message"] and "sales" in r.json["message"]
