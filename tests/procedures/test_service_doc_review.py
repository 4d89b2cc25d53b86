"""服务文档审核 (seed 003 六、服务文档管理) walked through the API by the demo users.

tech_eng writes service documents; numbers are SNYYYYXXX-style per category and year; the review level comes
from bpmn/service_doc_review_level.dmn: ordinary → the team lead chosen (pm), important → IT head (tech_head)
or the business department's head, major decisions / key business → management (gm)."""

import re

import pytest

SUBMIT = {
    "doc_title": "客户拜访记录系统需求说明书",
    "doc_category": "SN",
    "doc_subcategory": "功能需求",
    "doc_version": "V1.0",
    "related_project": "客户拜访记录系统",
    "doc_summary": "功能、性能、接口、数据要求",
    "doc_location": "//fs/it/SN/客户拜访记录系统需求说明书.docx",
    "importance": "一般",
    "major_decision": "no",
    "key_business": "no",
    "review_side": "it",
    "team_lead": "pm",
}
ARCHIVE = {
    "archive_date": "2026-11-25",
    "storage_path": "//fs/it/SN/2026",
    "paper_location": "IT-柜3-12",
    "retention_period": "5年",
    "access_level": "一般",
}
OK = {"decision": "approve", "comment": "同意"}


def open_tasks(api, case_id):
    return [(t["element_id"], t["candidate_users"]) for t in api.case(case_id)["tasks"] if t["state"] == "open"]


def submit(api, data, author="tech_eng"):
    case = api.start("service_doc_review", author)
    api.walk(case["id"], [("submit_document", author, data)])
    return case["id"]


def number_of(doc_no, category):
    match = re.fullmatch(rf"{category}2026(\d{{3}})", doc_no)
    assert match, doc_no
    return int(match.group(1))


def test_ordinary_document_is_numbered_reviewed_by_the_team_lead_and_archived(api, clock):
    case_id = submit(api, SUBMIT)
    body = api.case(case_id)
    assert body["data"]["review_level"] == "一般"
    number_of(body["data"]["doc_no"], "SN")
    assert open_tasks(api, case_id) == [("team_lead_review", ["pm"])]
    api.walk(case_id, [("team_lead_review", "pm", {**OK, "review_points": "内容完整"})])
    assert open_tasks(api, case_id) == [("archive_document", ["qg_head", "qg_staff"])]
    api.walk(case_id, [("archive_document", "qg_staff", ARCHIVE)])
    done = api.case(case_id)
    assert done["status"] == "completed", done["error"]
    assert api.completions(case_id) == [
        ("submit_document", "tech_eng", None),
        ("team_lead_review", "pm", "approve"),
        ("archive_document", "qg_staff", None),
    ]
    assert done["data"]["retention_period"] == "5年" and done["data"]["doc_no"] == body["data"]["doc_no"]


@pytest.mark.parametrize(
    "grading,level,step,reviewers",
    [
        ({"importance": "重要", "review_side": "it"}, "重要", "it_head_review", ["tech_head"]),
        (
            {"importance": "重要", "review_side": "business", "business_dept": "mkt"},
            "重要",
            "business_head_review",
            ["mkt_head"],
        ),
        ({"importance": "一般", "major_decision": "yes"}, "重大", "management_review", ["gm"]),
        (
            {"importance": "重要", "key_business": "yes", "review_side": "business", "business_dept": "mkt"},
            "重大",
            "management_review",
            ["gm"],
        ),
    ],
)
def test_review_level_decides_who_reviews(api, clock, grading, level, step, reviewers):
    case_id = submit(api, {**SUBMIT, **grading})
    assert api.case(case_id)["data"]["review_level"] == level
    assert open_tasks(api, case_id) == [(step, reviewers)]
    api.walk(case_id, [(step, reviewers[0], OK), ("archive_document", "qg_head", ARCHIVE)])
    assert api.case(case_id)["status"] == "completed"


def test_numbers_run_per_category_and_year(api, clock):
    first_sp = number_of(api.case(submit(api, {**SUBMIT, "doc_category": "SP"}))["data"]["doc_no"], "SP")
    first_sn = number_of(api.case(submit(api, SUBMIT))["data"]["doc_no"], "SN")
    second_sn = number_of(api.case(submit(api, SUBMIT))["data"]["doc_no"], "SN")
    second_sp = number_of(api.case(submit(api, {**SUBMIT, "doc_category": "SP"}))["data"]["doc_no"], "SP")
    assert second_sn == first_sn + 1
    assert second_sp == first_sp + 1  # SN documents in between do not use up SP numbers


def test_rejected_document_is_revised_regraded_and_keeps_its_number(api, clock):
    case_id = submit(api, {**SUBMIT, "importance": "重要"})
    doc_no = api.case(case_id)["data"]["doc_no"]
    task = api.open_task(case_id, "tech_head", "it_head_review")
    r = api.post(f"/tasks/{task['id']}/complete", "tech_head", {"data": {"decision": "reject"}})
    assert r.status_code == 400 and "comment" in r.json["errors"]
    api.walk(case_id, [("it_head_review", "tech_head", {"decision": "reject", "comment": "缺少接口要求"})])
    assert open_tasks(api, case_id) == [("revise_document", ["tech_eng"])]
    # The author revises; the document now touches key business, so it goes up to management.
    api.walk(case_id, [("revise_document", "tech_eng", _revision("V1.1", "补充接口要求", key_business="yes"))])
    body = api.case(case_id)
    assert body["data"]["review_level"] == "重大" and body["data"]["doc_no"] == doc_no
    assert open_tasks(api, case_id) == [("management_review", ["gm"])]
    api.walk(
        case_id,
        [
            ("management_review", "gm", {"decision": "reject", "comment": "请说明对合同的影响"}),
            ("revise_document", "tech_eng", _revision("V1.2", "补充对合同的影响", key_business="yes")),
            ("management_review", "gm", OK),
            ("archive_document", "qg_staff", {**ARCHIVE, "retention_period": "长期", "access_level": "授权"}),
        ],
    )
    done = api.case(case_id)
    assert done["status"] == "completed" and done["data"]["doc_no"] == doc_no
    assert done["data"]["doc_version"] == "V1.2"
    assert api.completions(case_id) == [
        ("submit_document", "tech_eng", None),
        ("it_head_review", "tech_head", "reject"),
        ("revise_document", "tech_eng", None),
        ("management_review", "gm", "reject"),
        ("revise_document", "tech_eng", None),
        ("management_review", "gm", "approve"),
        ("archive_document", "qg_staff", None),
    ]


def _revision(version, note, **grading):
    return {
        "revision_note": note,
        "doc_version": version,
        "doc_location": SUBMIT["doc_location"],
        "importance": "一般",
        "major_decision": "no",
        "key_business": "no",
        "review_side": "it",
        "team_lead": "pm",
        **grading,
    }


def test_nobody_reviews_their_own_document(api, clock):
    # The author cannot name themself team lead: the submission is refused and the form stays open.
    case = api.start("service_doc_review", "tech_eng")
    task = api.open_task(case["id"], "tech_eng", "submit_document")
    r = api.post(f"/tasks/{task['id']}/complete", "tech_eng", {"data": {**SUBMIT, "team_lead": "tech_eng"}})
    assert r.status_code == 400 and "职责分离" in r.json["message"]
    assert api.open_task(case["id"], "tech_eng", "submit_document")["id"] == task["id"]
    # The IT head's own important document cannot go to the IT head; the business department's head reviews it.
    case = api.start("service_doc_review", "tech_head")
    task = api.open_task(case["id"], "tech_head", "submit_document")
    r = api.post(f"/tasks/{task['id']}/complete", "tech_head", {"data": {**SUBMIT, "importance": "重要"}})
    assert r.status_code == 400 and "职责分离" in r.json["message"]
    api.complete(
        task["id"], "tech_head", {**SUBMIT, "importance": "重要", "review_side": "business", "business_dept": "ops"}
    )
    assert open_tasks(api, case["id"]) == [("business_head_review", ["ops_head"])]


def test_a_refused_submission_does_not_use_up_a_number(api, clock):
    before = number_of(api.case(submit(api, {**SUBMIT, "doc_category": "TS"}))["data"]["doc_no"], "TS")
    case = api.start("service_doc_review", "tech_eng")
    task = api.open_task(case["id"], "tech_eng", "submit_document")
    r = api.post(
        f"/tasks/{task['id']}/complete", "tech_eng", {"data": {**SUBMIT, "doc_category": "TS", "team_lead": "tech_eng"}}
    )
    assert r.status_code == 400
    api.complete(task["id"], "tech_eng", {**SUBMIT, "doc_category": "TS"})
    assert number_of(api.case(case["id"])["data"]["doc_no"], "TS") == before + 1
