"""内部培训申请与实施 (《培训控制程序》4.3): plan submitted at least three days ahead, 培训管理员 reviews,
人力资源部负责人 approves, training held, 《培训记录表》, failed trainees retake until they pass."""

import pytest

# The engine clock starts at 2026-11-23 09:00 in every test (clock fixture).
PLAN = {
    "department": "ops",
    "course": "事件管理流程培训",
    "category": "routine",
    "training_date": "2026-11-30",
    "training_time": "14:00–17:00",
    "place": "三楼会议室",
    "trainer": "ops_head",
    "trainees": ["ops_eng", "emp"],
    "notice": "请参训人员准时参加",
    "schedule": "14:00 流程讲解；16:00 考试",
    "outline": "事件分级、升级、关闭",
    "assessment_method": "written",
    "pass_mark": 60,
}
ATTENDANCE = {"held_on": "2026-11-30", "attendees": ["ops_eng", "emp"], "discipline": "无"}
RECORD = {
    "record_trainer": "运维部负责人",
    "record_date": "2026-11-30",
    "record_place": "三楼会议室",
    "record_content": "事件管理流程",
    "strengths": "案例贴近实际",
    "weaknesses": "练习时间不足",
    "effectiveness": "effective",
}
ARCHIVE = {"archive_no": "PX-2026-031", "archived_on": "2026-12-01", "profile_updated": True}
APPROVALS = [
    ("trainer_review", "hr_trainer", {"decision": "approve"}),
    ("head_approve", "hr_head", {"decision": "approve"}),
]


def scores(**by_trainee):
    return [{"trainee": t, "score": s} for t, s in by_trainee.items()]


def test_plan_review_approval_training_record_and_archive(api, clock):
    case = api.start("training_internal", "ops_head")
    assert api.open_task(case["id"], "ops_head", "submit_plan")["assignee"] == "ops_head"
    api.walk(case["id"], [("submit_plan", "ops_head", PLAN)])
    assert api.open_task(case["id"], "hr_trainer", "trainer_review")["candidate_users"] == ["hr_trainer"]
    api.walk(case["id"], [("trainer_review", "hr_trainer", {"decision": "approve"})])
    head = api.open_task(case["id"], "hr_head", "head_approve")
    assert head["candidate_users"] == ["hr_head"]  # 人力资源部负责人, not every HR member
    api.complete(head["id"], "hr_head", {"decision": "approve"})
    assert api.open_task(case["id"], "hr_trainer", "hold_training")["candidate_users"] == ["hr_trainer"]
    api.walk(
        case["id"],
        [
            ("hold_training", "hr_trainer", ATTENDANCE),
            ("training_record", "ops_head", {**RECORD, "scores": scores(ops_eng=85, emp=72)}),  # organising department
            ("archive", "hr_trainer", ARCHIVE),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed", done["error"]
    assert api.completions(case["id"]) == [
        ("submit_plan", "ops_head", None),
        ("trainer_review", "hr_trainer", "approve"),
        ("head_approve", "hr_head", "approve"),
        ("hold_training", "hr_trainer", None),
        ("training_record", "ops_head", None),
        ("archive", "hr_trainer", None),
    ]
    assert done["data"]["failed"] == []
    record = next(e for e in done["history"] if e["element_id"] == "training_record")  # 《培训记录表》
    assert record["data"]["scores"] == scores(ops_eng=85, emp=72)


def test_failed_trainees_retake_until_they_pass(api, clock):
    case = api.start("training_internal", "ops_head")
    api.walk(
        case["id"],
        [
            ("submit_plan", "ops_head", PLAN),
            *APPROVALS,
            ("hold_training", "hr_trainer", ATTENDANCE),
            ("training_record", "ops_head", {**RECORD, "scores": scores(ops_eng=85, emp=50)}),
        ],
    )
    assert api.case(case["id"])["data"]["failed"] == ["emp"]
    retake = api.open_task(case["id"], "hr_trainer", "retake")
    assert retake["candidate_users"] == ["hr_trainer"]
    api.complete(retake["id"], "hr_trainer", {"retake_date": "2026-12-03", "retake_scores": scores(emp=55)})
    # Still below the pass mark: another retake, not the archive.
    assert api.case(case["id"])["data"]["failed"] == ["emp"]
    api.walk(
        case["id"],
        [
            ("retake", "hr_trainer", {"retake_date": "2026-12-07", "retake_scores": scores(emp=80)}),
            ("archive", "hr_trainer", ARCHIVE),
        ],
    )
    done = api.case(case["id"])
    assert done["status"] == "completed"
    assert [s[0] for s in api.completions(case["id"])][-3:] == ["retake", "retake", "archive"]
    assert done["data"]["failed"] == []
    assert [(r["round"], r["scores"]) for r in done["data"]["retake_log"]] == [(1, scores(emp=55)), (2, scores(emp=80))]


def test_a_retake_without_the_failed_trainee_does_not_pass_them(api, clock):
    case = api.start("training_internal", "ops_head")
    api.walk(
        case["id"],
        [
            ("submit_plan", "ops_head", PLAN),
            *APPROVALS,
            ("hold_training", "hr_trainer", ATTENDANCE),
            ("training_record", "ops_head", {**RECORD, "scores": scores(ops_eng=40, emp=50)}),
            ("retake", "hr_trainer", {"retake_date": "2026-12-03", "retake_scores": scores(emp=90)}),
        ],
    )
    assert api.case(case["id"])["data"]["failed"] == ["ops_eng"]
    api.walk(
        case["id"],
        [
            ("retake", "hr_trainer", {"retake_date": "2026-12-04", "retake_scores": scores(ops_eng=70)}),
            ("archive", "hr_trainer", ARCHIVE),
        ],
    )
    assert api.case(case["id"])["status"] == "completed"


def test_a_plan_less_than_three_days_ahead_goes_back_to_be_rescheduled(api, clock):
    case = api.start("training_internal", "ops_head")
    api.walk(case["id"], [("submit_plan", "ops_head", {**PLAN, "training_date": "2026-11-25"})])
    back = api.case(case["id"])
    assert [t["element_id"] for t in back["tasks"] if t["state"] == "open"] == ["submit_plan"]
    assert "不足3天" in back["data"]["plan_problem"]
    api.walk(
        case["id"],
        [
            ("submit_plan", "ops_head", {**PLAN, "training_date": "2026-11-26"}),  # exactly 3 days
            *APPROVALS,
            ("hold_training", "hr_trainer", ATTENDANCE),
            ("training_record", "ops_head", {**RECORD, "scores": scores(ops_eng=85, emp=72)}),
            ("archive", "hr_trainer", ARCHIVE),
        ],
    )
    assert api.case(case["id"])["status"] == "completed"
    assert [s[0] for s in api.completions(case["id"])][:3] == ["submit_plan", "submit_plan", "trainer_review"]


@pytest.mark.parametrize(
    "rejecter,element_id,before",
    [
        ("hr_trainer", "trainer_review", []),
        ("hr_head", "head_approve", [("trainer_review", "hr_trainer", {"decision": "approve"})]),
    ],
)
def test_rejection_returns_to_the_organising_department(api, clock, rejecter, element_id, before):
    case = api.start("training_internal", "ops_head")
    api.walk(case["id"], [("submit_plan", "ops_head", PLAN)] + before)
    task = api.open_task(case["id"], rejecter, element_id)
    api.complete(task["id"], rejecter, {"decision": "reject", "comment": "请补充考核试题"})
    assert api.open_task(case["id"], "ops_head", "submit_plan")["assignee"] == "ops_head"
    api.walk(
        case["id"],
        [
            ("submit_plan", "ops_head", {**PLAN, "outline": "事件分级、升级、关闭；附试题"}),
            *APPROVALS,
            ("hold_training", "hr_trainer", ATTENDANCE),
            ("training_record", "ops_head", {**RECORD, "scores": scores(ops_eng=85, emp=72)}),
            ("archive", "hr_trainer", ARCHIVE),
        ],
    )
    assert api.case(case["id"])["status"] == "completed"
    steps = api.completions(case["id"])
    assert (element_id, rejecter, "reject") in steps and [s[0] for s in steps].count("submit_plan") == 2


def test_review_reminder_escalation_before_the_training_day(api, clock):
    case = api.start("training_internal", "ops_head")
    api.walk(case["id"], [("submit_plan", "ops_head", PLAN)])  # training on 2026-11-30

    def notes():
        return [
            (e["data"]["kind"], e["data"]["to"]) for e in api.case(case["id"])["history"] if e["type"] == "notified"
        ]

    clock.advance(days=4, hours=23)  # 11-28 08:00
    assert notes() == []
    clock.advance(hours=1, minutes=1)  # 11-28 09:01: two days before, not yet reviewed
    assert notes() == [("reminder", ["hr_trainer"])]
    clock.advance(days=1)  # 11-29 09:01: one day before: escalated to the head of 人力资源部
    assert notes() == [("reminder", ["hr_trainer"]), ("escalation", ["hr_head"])]
    api.walk(case["id"], [("trainer_review", "hr_trainer", {"decision": "approve"})])
    clock.advance(minutes=1)  # the approval is also due within a day of the training
    assert notes()[-1] == ("reminder", ["hr_head"])
    api.walk(
        case["id"],
        [
            ("head_approve", "hr_head", {"decision": "approve"}),
            ("hold_training", "hr_trainer", ATTENDANCE),
            ("training_record", "ops_head", {**RECORD, "scores": scores(ops_eng=85, emp=72)}),
            ("archive", "hr_trainer", ARCHIVE),
        ],
    )
    assert api.case(case["id"])["status"] == "completed"
