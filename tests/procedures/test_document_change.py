"""文件编写/更改审批与发布 (seed 002 文件和资料控制程序 3, 4.1.2, 4.2–4.7) walked through the API:
《文件更改申请(通知)单》 → the original approval chain of the document's level → 管理者代表 approves the
distribution scope → 文件管理员 numbers, publishes, distributes and voids the old version."""

import re

import pytest

REVISE_PROCEDURE = {
    "change_type": "revise",
    "doc_title": "变更管理程序",
    "doc_level": "procedure",
    "department": "ops",
    "current_doc_no": "XX-ITSMS-CX-021-A",
    "current_revision": "A/0",
    "change_reason": "增加紧急变更的事后审批",
    "change_content": "修改 4.3 节",
    "change_method": "new_edition",
}
NEW_THIRD_LEVEL = {
    "change_type": "new",
    "doc_title": "机房巡检作业指导书",
    "doc_level": "third_level",
    "department": "tech",
    "change_reason": "新建机房",
    "change_content": "巡检项目与频次",
    "change_method": "new_edition",
}
DRAFT = {
    "draft_summary": "按评审意见修订",
    "draft_location": "配置服务器/体系文件/草稿",
    "proposed_scope": ["ops", "tech"],
    "sensitivity": "internal",
}
SCOPE = {
    "distribution_scope": ["ops", "tech", "impl"],
    "paper_copies": 3,
    "publish_online": True,
    "decision": "approve",
}
PUBLISH = {
    "publish_date": "2026-12-01",
    "server_path": "配置服务器/体系文件/程序文件",
    "distribution": [
        {"department": "ops", "copy_no": "F-01", "recipient": "ops_head"},
        {"department": "tech", "copy_no": "F-02", "recipient": "tech_head"},
    ],
    "list_updated": True,
}
RECALL = {
    "old_version_handling": "void_keep",
    "keep_reason": "审核证据需保留",
    "recalled": [{"department": "ops", "copy_no": "F-01"}],
    "server_updated": True,
    "change_record": "A版换B版，4.3节增加紧急变更事后审批",
}
PROCEDURE_CHAIN = [
    ("qg_draft", "qg_staff", DRAFT),
    ("mr_review", "mr", {"decision": "approve"}),
    ("gm_approve", "gm", {"decision": "approve"}),
]
THIRD_LEVEL_CHAIN = [("dept_draft", "tech_head", DRAFT), ("vp_approve", "vp", {"decision": "approve"})]


def test_revised_procedure_is_approved_by_mr_and_gm_then_renumbered_and_the_old_edition_voided(api):
    case = api.start("document_change", "ops_head")
    api.walk(
        case["id"],
        [
            ("apply", "ops_head", REVISE_PROCEDURE),
            *PROCEDURE_CHAIN,
            ("mr_scope", "mr", SCOPE),
            ("publish", "qg_staff", PUBLISH),
            ("recall", "qg_head", RECALL),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert api.completions(case["id"]) == [
        ("apply", "ops_head", None),
        ("qg_draft", "qg_staff", None),
        ("mr_review", "mr", "approve"),
        ("gm_approve", "gm", "approve"),
        ("mr_scope", "mr", "approve"),
        ("publish", "qg_staff", None),
        ("recall", "qg_head", None),
    ]
    data = done["data"]
    assert (data["doc_no"], data["revision_status"], data["replaces_no"]) == (
        "XX-ITSMS-CX-021-B",
        "B/0",
        "XX-ITSMS-CX-021-A",
    )  # 换版: next edition letter, revision 0
    assert data["old_version_handling"] == "void_keep"
    record = next(e for e in done["history"] if e["element_id"] == "publish")
    assert [d["copy_no"] for d in record["data"]["distribution"]] == ["F-01", "F-02"]  # 《文件发放(回收)记录》


def test_partial_change_keeps_the_number_and_counts_the_revision(api):
    case = api.start("document_change", "ops_head")
    api.walk(
        case["id"],
        [
            ("apply", "ops_head", {**REVISE_PROCEDURE, "current_revision": "A/1", "change_method": "page"}),
            *PROCEDURE_CHAIN,
            ("mr_scope", "mr", SCOPE),
            ("publish", "qg_staff", PUBLISH),
            ("recall", "qg_staff", {**RECALL, "old_version_handling": "void"}),
        ],
    )
    data = api.case(case["id"])["data"]
    assert (data["doc_no"], data["revision_status"]) == ("XX-ITSMS-CX-021-A", "A/2")  # 换页: R/n counts up


def test_new_third_level_document_is_drafted_by_the_department_approved_by_vp_and_numbered_in_sequence(api):
    numbers = []
    for _ in range(2):
        case = api.start("document_change", "tech_eng")
        api.walk(
            case["id"],
            [
                ("apply", "tech_eng", NEW_THIRD_LEVEL),
                *THIRD_LEVEL_CHAIN,
                ("mr_scope", "mr", SCOPE),
                ("publish", "qg_staff", PUBLISH),
            ],
        )
        done = api.case(case["id"])
        assert done["status"] == "completed", done["error"]  # a new document has no old edition to recall
        assert [c[0] for c in api.completions(case["id"])] == [
            "apply",
            "dept_draft",
            "vp_approve",
            "mr_scope",
            "publish",
        ]
        assert done["data"]["revision_status"] == "A/0"
        numbers.append(done["data"]["doc_no"])
    assert all(re.fullmatch(r"XX-ITSMS-ZC-\d{3}-A", n) for n in numbers), numbers
    first, second = (int(n.split("-")[3]) for n in numbers)
    assert second == first + 1  # 顺序号 per document type, never reused


def test_the_draft_task_goes_to_the_head_of_the_responsible_department(api):
    case = api.start("document_change", "emp")
    api.walk(case["id"], [("apply", "emp", {**NEW_THIRD_LEVEL, "department": "impl"})])
    task = api.open_task(case["id"], "impl_head", "dept_draft")
    assert task["candidate_users"] == ["impl_head"]
    assert api.post(f"/tasks/{task['id']}/complete", "tech_head", {"data": DRAFT}).status_code == 403


@pytest.mark.parametrize(
    "level,before,rejecter,step,back_to,redo",
    [
        ("procedure", [("qg_draft", "qg_staff", DRAFT)], "mr", "mr_review", ("qg_draft", "qg_staff"), PROCEDURE_CHAIN),
        ("procedure", PROCEDURE_CHAIN[:2], "gm", "gm_approve", ("qg_draft", "qg_head"), PROCEDURE_CHAIN),
        ("procedure", PROCEDURE_CHAIN, "mr", "mr_scope", ("qg_draft", "qg_staff"), PROCEDURE_CHAIN),
        ("third_level", THIRD_LEVEL_CHAIN[:1], "vp", "vp_approve", ("dept_draft", "tech_head"), THIRD_LEVEL_CHAIN),
        ("third_level", THIRD_LEVEL_CHAIN, "mr", "mr_scope", ("dept_draft", "tech_head"), THIRD_LEVEL_CHAIN),
    ],
)
def test_a_rejection_returns_to_whoever_drafted_it(api, level, before, rejecter, step, back_to, redo):
    apply = REVISE_PROCEDURE if level == "procedure" else NEW_THIRD_LEVEL
    case = api.start("document_change", "tech_eng")
    api.walk(case["id"], [("apply", "tech_eng", apply), *before])
    task = api.open_task(case["id"], rejecter, step)
    r = api.post(
        f"/tasks/{task['id']}/complete",
        rejecter,
        {"data": {**(SCOPE if step == "mr_scope" else {}), "decision": "reject"}},
    )
    assert r.status_code == 400 and "comment" in r.json["errors"]
    api.complete(
        task["id"],
        rejecter,
        {**(SCOPE if step == "mr_scope" else {}), "decision": "reject", "comment": "请补充修改依据"},
    )
    back = api.open_task(case["id"], back_to[1], back_to[0])
    assert back_to[1] in back["candidate_users"]
    redo = [(e, back_to[1] if e == back_to[0] else u, d) for e, u, d in redo]
    api.walk(
        case["id"],
        [*redo, ("mr_scope", "mr", SCOPE), ("publish", "qg_staff", PUBLISH)]
        + ([("recall", "qg_staff", RECALL)] if level == "procedure" else []),
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    steps = api.completions(case["id"])
    assert (step, rejecter, "reject") in steps
    assert [s[0] for s in steps].count(back_to[0]) == 2
    assert steps[steps.index((step, rejecter, "reject")) + 1][:2] == back_to


def test_only_the_document_administrator_publishes(api):
    case = api.start("document_change", "tech_eng")
    api.walk(case["id"], [("apply", "tech_eng", NEW_THIRD_LEVEL), *THIRD_LEVEL_CHAIN, ("mr_scope", "mr", SCOPE)])
    task = api.open_task(case["id"], "qg_staff", "publish")
    assert sorted(task["candidate_users"]) == ["qg_head", "qg_staff"]
    assert api.post(f"/tasks/{task['id']}/complete", "mr", {"data": PUBLISH}).status_code == 403
