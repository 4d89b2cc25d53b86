"""流程新增/变更审批 (seed 000 篇2 第九–十五条) walked through the API by the demo users."""

import pytest

APPLY = {
    "change_type": "change",
    "process_name": "事件管理流程",
    "process_key": "incident",
    "trigger": "inspection_result",
    "responsible_dept": "ops",
    "business_dept": "tech",
    "reason": "季度检查发现升级时限不清",
    "content": "增加升级步骤",
    "affects_documents": False,
}
QG_REVIEW = {
    "decision": "approve",
    "standard_opinion": "符合规范",
    "match_opinion": "与问题管理匹配",
    "relation_opinion": "不涉及程序文件",
}
ORGANISE = {"review_date": "2026-12-01", "review_place": "三楼会议室", "participants": "运维部、技术部、企管部"}
CHAIR = {"decision": "approve", "review_conclusion": "同意按方案修改"}
PUBLISH = {"new_version": "V1.1", "publish_date": "2026-12-02", "filing_no": "QG-2026-017"}


def walk(api, instance_id, steps):
    """Complete (element_id, user, data) in order, checking each task is offered to that user."""
    for element_id, user, data in steps:
        task = api.open_task(instance_id, user, element_id)
        assert user in task["candidate_users"], (element_id, task)
        api.complete(task["id"], user, data)


def completions(api, instance_id):
    history = api.get(f"/instances/{instance_id}", "qg_staff").json["history"]
    return [(e["element_id"], e["actor"], e["decision"]) for e in history if e["type"] == "task_completed"]


def test_happy_path_from_application_to_publication(api):
    case = api.start("process_change", "emp")
    assert case["status"] == "running"
    first = case["tasks"][0]
    assert (first["element_id"], first["assignee"]) == ("apply", "emp")  # the initiator fills the form

    walk(
        api,
        case["id"],
        [
            ("apply", "emp", APPLY),
            ("mr_review", "mr", {"decision": "approve", "comment": "同意"}),
            ("qg_review", "qg_staff", QG_REVIEW),
            ("organise_review", "qg_head", ORGANISE),
            ("chair_review", "tech_head", CHAIR),  # head of the business department chosen in the form
            ("gm_approve", "gm", {"decision": "approve"}),
            ("publish", "qg_staff", PUBLISH),
        ],
    )
    done = api.get(f"/instances/{case['id']}", "emp").json
    assert done["status"] == "completed"
    assert done["data"]["new_version"] == "V1.1"
    assert completions(api, case["id"]) == [
        ("apply", "emp", None),
        ("mr_review", "mr", "approve"),
        ("qg_review", "qg_staff", "approve"),
        ("organise_review", "qg_head", None),
        ("chair_review", "tech_head", "approve"),
        ("gm_approve", "gm", "approve"),
        ("publish", "qg_staff", None),
    ]
    types = [e["type"] for e in done["history"]]
    assert types[0] == "instance_started" and types[-1] == "instance_completed"
    # The filled form is kept as the record of each step.
    record = next(e for e in done["history"] if e["element_id"] == "apply")
    assert record["data"]["process_name"] == "事件管理流程"


def test_chair_is_head_of_the_business_department_chosen(api):
    case = api.start("process_change", "emp")
    walk(
        api,
        case["id"],
        [
            ("apply", "emp", {**APPLY, "business_dept": "hr"}),
            ("mr_review", "mr", {"decision": "approve"}),
            ("qg_review", "qg_head", QG_REVIEW),
            ("organise_review", "qg_head", ORGANISE),
        ],
    )
    task = api.open_task(case["id"], "hr_head", "chair_review")
    assert task["candidate_users"] == ["hr_head"]
    assert api.post(f"/tasks/{task['id']}/complete", "tech_head", {"data": CHAIR}).status_code == 403


@pytest.mark.parametrize(
    "rejecter,element_id,before",
    [
        ("mr", "mr_review", []),
        (
            "gm",
            "gm_approve",
            [
                ("mr_review", "mr", {"decision": "approve"}),
                ("qg_review", "qg_staff", QG_REVIEW),
                ("organise_review", "qg_staff", ORGANISE),
                ("chair_review", "tech_head", CHAIR),
            ],
        ),
    ],
)
def test_rejection_returns_to_the_applicant_then_finishes(api, rejecter, element_id, before):
    case = api.start("process_change", "emp")
    walk(api, case["id"], [("apply", "emp", APPLY)] + before)

    task = api.open_task(case["id"], rejecter, element_id)
    # A rejection needs a reason; the task stays open when it is missing.
    r = api.post(f"/tasks/{task['id']}/complete", rejecter, {"data": {"decision": "reject"}})
    assert r.status_code == 400 and "comment" in r.json["errors"]
    assert api.open_task(case["id"], rejecter, element_id)["id"] == task["id"]
    api.complete(task["id"], rejecter, {"decision": "reject", "comment": "请补充变更影响分析"})

    back = api.open_task(case["id"], "emp", "apply")
    assert back["assignee"] == "emp"
    assert back["state"] == "open"
    walk(
        api,
        case["id"],
        [
            ("apply", "emp", {**APPLY, "content": "增加升级步骤，附影响分析"}),
            ("mr_review", "mr", {"decision": "approve"}),
            ("qg_review", "qg_staff", QG_REVIEW),
            ("organise_review", "qg_staff", ORGANISE),
            ("chair_review", "tech_head", CHAIR),
            ("gm_approve", "gm", {"decision": "approve"}),
            ("publish", "qg_head", PUBLISH),
        ],
    )
    body = api.get(f"/instances/{case['id']}", "emp").json
    assert body["status"] == "completed"
    steps = completions(api, case["id"])
    assert (element_id, rejecter, "reject") in steps
    assert [s[0] for s in steps].count("apply") == 2
    reject = next(e for e in body["history"] if e["decision"] == "reject")
    assert reject["comment"] == "请补充变更影响分析"


def _publish_case(api, apply, publish):
    case = api.start("process_change", "emp")
    api.walk(
        case["id"],
        [
            ("apply", "emp", apply),
            ("mr_review", "mr", {"decision": "approve"}),
            ("qg_review", "qg_staff", QG_REVIEW),
            ("organise_review", "qg_staff", ORGANISE),
            ("chair_review", "tech_head", CHAIR),
            ("gm_approve", "gm", {"decision": "approve"}),
            ("publish", "qg_staff", publish),
        ],
    )
    return api.case(case["id"])


def test_a_change_affecting_procedure_documents_starts_a_document_change(api):
    done = _publish_case(
        api,
        {**APPLY, "affects_documents": True, "affected_documents": "《事件和服务请求管理程序》"},
        {**PUBLISH, "doc_title": "事件和服务请求管理程序"},
    )
    assert done["status"] == "completed", done["error"]
    assert [e["element_id"] for e in done["history"] if e["type"] == "task_completed"][-1] == "publish"
    children = api.children(done["id"])
    assert len(children) == 1
    child = children[0]
    assert child["process_key"] == "document_change" and child["parent_instance_id"] == done["id"]
    assert child["initiator"] == "qg_staff"  # the 企管部 member who published
    assert {k: child["data"][k] for k in ("doc_title", "doc_level", "department")} == {
        "doc_title": "事件和服务请求管理程序",
        "doc_level": "procedure",
        "department": "ops",
    }
    assert "事件管理流程" in child["data"]["change_reason"] and "V1.1" in child["data"]["change_reason"]
    # The responsible department of the process confirms the 《文件更改申请(通知)单》, then 企管部 drafts.
    api.walk(
        child["id"],
        [
            (
                "confirm_request",
                "ops_head",
                {
                    "change_type": "revise",
                    "doc_title": "事件和服务请求管理程序",
                    "doc_level": "procedure",
                    "department": "ops",
                    "current_doc_no": "XX-ITSMS-CX-017-A",
                    "current_revision": "A/0",
                    "change_reason": child["data"]["change_reason"],
                    "change_content": "增加升级步骤",
                    "change_method": "page",
                },
            )
        ],
    )
    assert api.open_task(child["id"], "qg_staff", "qg_draft")["state"] == "open"


def test_the_document_title_falls_back_to_the_documents_named_in_the_application(api):
    done = _publish_case(api, {**APPLY, "affects_documents": True, "affected_documents": "《问题管理程序》"}, PUBLISH)
    (child,) = api.children(done["id"])
    assert child["data"]["doc_title"] == "《问题管理程序》"


def test_a_change_not_affecting_documents_starts_nothing(api):
    done = _publish_case(api, APPLY, PUBLISH)
    assert done["status"] == "completed", done["error"]
    assert api.children(done["id"]) == []
    assert not [e for e in done["history"] if e["type"] == "case_started"]
