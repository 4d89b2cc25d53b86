"""受控文件借阅/复制/补发 (seed 002 文件和资料控制程序 4.4.2, 记录控制程序 4.6): 《文件借阅、复制记录》 with
the approvals each case needs: 管理者代表 when needed for lending, the department head for copying, the
department heads for important records, the 企管部 head for reissuing a lost document."""

import pytest

BORROW = {
    "request_type": "borrow",
    "doc_kind": "controlled",
    "doc_title": "变更管理程序",
    "doc_no": "XX-ITSMS-CX-021-A",
    "applicant_dept": "ops",
    "purpose": "新员工培训",
    "copies": 1,
    "return_date": "2026-11-30",
    "important": False,
}
IMPORTANT = {
    **BORROW,
    "doc_kind": "record",
    "doc_title": "2026年重大变更记录",
    "important": True,
    "keeper_dept": "tech",
}
COPY = {**BORROW, "request_type": "copy", "copies": 2, "return_date": None}
LOST = {
    **BORROW,
    "request_type": "reissue",
    "reissue_reason": "lost",
    "loss_statement": "出差途中遗失",
    "original_copy_no": "F-07",
    "return_date": None,
}
REGISTER = {"register_no": "JY-2026-01", "sensitivity": "internal", "needs_mr": "no"}
HANDOVER = {"handover_date": "2026-11-23", "issued_copy_no": "F-07", "receiver": "emp"}
RETURNED = {"returned_date": "2026-11-28", "return_condition": "intact"}
OK = {"decision": "approve"}


def test_lending_a_controlled_document_is_registered_handed_over_and_returned(api, clock):
    case = api.start("document_borrow", "emp")
    api.walk(
        case["id"],
        [
            ("apply", "emp", BORROW),
            ("register", "qg_staff", REGISTER),
            ("handover", "qg_staff", HANDOVER),
            ("return_check", "qg_head", RETURNED),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert api.completions(case["id"]) == [
        ("apply", "emp", None),
        ("register", "qg_staff", None),
        ("handover", "qg_staff", None),
        ("return_check", "qg_head", None),
    ]
    record = next(e for e in done["history"] if e["element_id"] == "apply")
    assert record["data"]["purpose"] == "新员工培训"  # 《文件借阅、复制记录》 kept as the record


def test_when_needed_lending_goes_to_mr_whose_refusal_returns_to_the_applicant(api, clock):
    case = api.start("document_borrow", "emp")
    api.walk(
        case["id"],
        [
            ("apply", "emp", BORROW),
            ("register", "qg_staff", {**REGISTER, "sensitivity": "secret", "needs_mr": "yes"}),
            ("mr_approve", "mr", {"decision": "reject", "comment": "培训用内部公开版本即可"}),
            ("apply", "emp", {**BORROW, "purpose": "新员工培训（需原件核对）"}),
            ("register", "qg_staff", {**REGISTER, "needs_mr": "yes"}),
            ("mr_approve", "mr", OK),
            ("handover", "qg_staff", HANDOVER),
            ("return_check", "qg_staff", RETURNED),
        ],
    )
    assert api.case(case["id"])["status"] == "completed"
    assert [c for c in api.completions(case["id"]) if c[0] == "mr_approve"] == [
        ("mr_approve", "mr", "reject"),
        ("mr_approve", "mr", "approve"),
    ]


def test_an_important_record_needs_both_department_heads(api, clock):
    case = api.start("document_borrow", "emp")
    api.walk(
        case["id"],
        [
            ("apply", "emp", IMPORTANT),
            ("own_head_approve", "ops_head", OK),
            ("keeper_head_approve", "tech_head", OK),
            ("register", "qg_staff", REGISTER),
            ("handover", "qg_staff", HANDOVER),
            ("return_check", "qg_staff", RETURNED),
        ],
    )
    assert api.case(case["id"])["status"] == "completed"
    assert [c[:2] for c in api.completions(case["id"])][:3] == [
        ("apply", "emp"),
        ("own_head_approve", "ops_head"),
        ("keeper_head_approve", "tech_head"),
    ]


@pytest.mark.parametrize(
    "data,step,approver", [(COPY, "copy_approve", "ops_head"), (LOST, "qg_head_approve", "qg_head")]
)
def test_copying_and_reissuing_a_lost_document_are_approved_or_sent_back(api, clock, data, step, approver):
    case = api.start("document_borrow", "emp")
    api.walk(case["id"], [("apply", "emp", data)])
    task = api.open_task(case["id"], approver, step)
    assert task["candidate_users"] == [approver]
    api.walk(
        case["id"],
        [
            (step, approver, {"decision": "reject", "comment": "请说明用途"}),
            ("apply", "emp", {**data, "purpose": "项目交付资料归档"}),
            (step, approver, OK),
            ("register", "qg_staff", REGISTER),
            ("handover", "qg_staff", HANDOVER),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]  # nothing to return after a copy or a reissue
    assert [c for c in api.completions(case["id"]) if c[0] == step] == [
        (step, approver, "reject"),
        (step, approver, "approve"),
    ]


def test_a_damaged_copy_is_replaced_without_approval(api, clock):
    case = api.start("document_borrow", "emp")
    api.walk(
        case["id"],
        [
            ("apply", "emp", {**LOST, "reissue_reason": "damaged", "loss_statement": None}),
            ("register", "qg_staff", REGISTER),
            ("handover", "qg_staff", HANDOVER),
        ],
    )
    assert api.case(case["id"])["status"] == "completed"
    assert [c[0] for c in api.completions(case["id"])] == ["apply", "register", "handover"]


@pytest.mark.parametrize(
    "user,data", [("ops_head", {**COPY, "applicant_dept": "ops"}), ("qg_head", {**LOST, "applicant_dept": "qg"})]
)
def test_an_approver_cannot_approve_their_own_request(api, clock, user, data):
    case = api.start("document_borrow", user)
    task = api.open_task(case["id"], user, "apply")
    r = api.post(f"/tasks/{task['id']}/complete", user, {"data": data})
    assert r.status_code == 400 and "职责分离" in r.json["message"]
    assert api.open_task(case["id"], user, "apply")["id"] == task["id"]  # nothing moved on


def test_the_borrower_is_reminded_on_the_return_date(api, clock):
    case = api.start("document_borrow", "emp")
    api.walk(
        case["id"], [("apply", "emp", BORROW), ("register", "qg_staff", REGISTER), ("handover", "qg_staff", HANDOVER)]
    )
    clock.advance(days=6)  # 11-29
    assert not [e for e in api.case(case["id"])["history"] if e["type"] == "notified"]
    clock.advance(days=1, minutes=1)  # 11-30 09:01
    (note,) = [e for e in api.case(case["id"])["history"] if e["type"] == "notified"]
    assert note["data"] == {"to": ["emp"], "kind": "reminder"} and "变更管理程序" in note["comment"]
