"""记录表格设计与启用 (seed 002 记录控制程序 4.1–4.2): 责任部门 designs → 企管部 reviews and numbers it
ITSR-ZD-ZDNUM-XX → 管理者代表 approves → 企管部 issues it and the updated 《记录清单》."""

DESIGN = {
    "form_name": "变更评审记录表",
    "responsible_dept": "tech",
    "related_doc_type": "CX",
    "related_doc_seq": "021",
    "related_doc_title": "变更管理程序",
    "purpose": "记录 CAB 评审",
    "form_fields": "变更编号、评审人、结论",
    "using_depts": ["tech", "ops"],
    "retention_period": "3年",
    "carrier": "electronic",
}
REVIEW = {"review_notes": "栏目完整", "decision": "approve"}
PUBLISH = {
    "publish_date": "2026-11-25",
    "effective_date": "2026-12-01",
    "distributed_to": ["tech", "ops"],
    "record_list_version": "2026-03",
    "template_location": "配置服务器/记录表格",
}


def designed(api, data=DESIGN, user="tech_eng"):
    case = api.start("record_form", user)
    api.walk(case["id"], [("design", user, data)])
    return case


def test_designed_reviewed_numbered_approved_and_issued(api):
    case = designed(api)
    api.walk(
        case["id"],
        [
            ("qg_review", "qg_staff", REVIEW),
            ("mr_approve", "mr", {"decision": "approve"}),
            ("publish", "qg_head", PUBLISH),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert api.completions(case["id"]) == [
        ("design", "tech_eng", None),
        ("qg_review", "qg_staff", "approve"),
        ("mr_approve", "mr", "approve"),
        ("publish", "qg_head", None),
    ]
    assert done["data"]["form_no"].startswith("ITSR-CX-021-")
    assert len(done["data"]["form_no"].split("-")[-1]) == 2


def test_record_numbers_count_per_document_from_01(api):
    numbers = []
    for seq in ("098", "098", "099"):
        case = designed(api, {**DESIGN, "related_doc_seq": seq})
        api.walk(case["id"], [("qg_review", "qg_staff", REVIEW)])
        numbers.append(api.case(case["id"])["data"]["form_no"])
    assert numbers == ["ITSR-CX-098-01", "ITSR-CX-098-02", "ITSR-CX-099-01"]


def test_rejections_go_back_to_the_designer_and_a_numbered_form_keeps_its_number(api):
    case = designed(api, {**DESIGN, "related_doc_seq": "097"})
    api.walk(
        case["id"],
        [
            ("qg_review", "qg_staff", {"review_notes": "缺少评审结论栏", "decision": "reject", "comment": "补充栏目"}),
            ("design", "tech_eng", {**DESIGN, "related_doc_seq": "097", "form_fields": "变更编号、评审人、结论、日期"}),
            ("qg_review", "qg_staff", REVIEW),
            ("mr_approve", "mr", {"decision": "reject", "comment": "保存期限应为5年"}),
            ("design", "tech_eng", {**DESIGN, "related_doc_seq": "097", "retention_period": "5年"}),
            ("qg_review", "qg_head", REVIEW),
            ("mr_approve", "mr", {"decision": "approve"}),
            ("publish", "qg_staff", PUBLISH),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert [c for c in api.completions(case["id"]) if c[2]] == [
        ("qg_review", "qg_staff", "reject"),
        ("qg_review", "qg_staff", "approve"),
        ("mr_approve", "mr", "reject"),
        ("qg_review", "qg_head", "approve"),
        ("mr_approve", "mr", "approve"),
    ]
    assert done["data"]["form_no"] == "ITSR-CX-097-01"  # reviewed twice, numbered once
    assert done["data"]["retention_period"] == "5年"


def test_the_document_sequence_must_be_three_digits(api):
    case = api.start("record_form", "tech_eng")
    task = api.open_task(case["id"], "tech_eng", "design")
    r = api.post(f"/tasks/{task['id']}/complete", "tech_eng", {"data": {**DESIGN, "related_doc_seq": "21"}})
    assert r.status_code == 400 and "related_doc_seq" in r.json["errors"]
