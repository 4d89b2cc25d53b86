"""Form submissions within bounds (issue 13, items 10 and 11): list fields capped and without
duplicates, text capped where the form sets no maxLength, patterns matched by RE2."""

from __future__ import annotations

import time

import pytest

from engine.errors import InvalidData
from engine.forms.schema import validate_submission

PEOPLE = [{"label": f"用户 {n}", "value": f"u{n}"} for n in range(300)]


def form(*components: dict) -> dict:
    return {"type": "default", "components": list(components)}


def refusal(form_json: dict, data: dict) -> dict:
    with pytest.raises(InvalidData) as refused:
        validate_submission(form_json, data)
    return refused.value.errors


PICK = {"id": "people", "type": "taglist", "key": "people", "label": "人员", "values": PEOPLE}
CHECKS = {
    "id": "areas",
    "type": "checklist",
    "key": "areas",
    "label": "范围",
    "values": [{"label": "甲", "value": "a"}, {"label": "乙", "value": "b"}],
}


@pytest.mark.parametrize("component, chosen", [(PICK, ["u1", "u2", "u1"]), (CHECKS, ["a", "a"])])
def test_a_list_field_refuses_the_same_choice_twice(component, chosen):
    assert refusal(form(component), {component["key"]: chosen}) == {component["key"]: [f"不能重复选择：{chosen[0]}"]}


def test_a_list_field_is_capped_and_the_cap_is_configurable(monkeypatch):
    assert validate_submission(form(PICK), {"people": [f"u{n}" for n in range(200)]})
    assert refusal(form(PICK), {"people": [f"u{n}" for n in range(201)]}) == {"people": ["最多 200 项"]}
    monkeypatch.setenv("BPM_FORM_MAX_LIST_ITEMS", "3")
    assert "people" in refusal(form(PICK), {"people": ["u1", "u2", "u3", "u4"]})


def test_a_list_without_options_takes_only_plain_values():
    free = {"id": "tags", "type": "taglist", "key": "tags", "label": "标签"}
    assert validate_submission(form(free), {"tags": ["甲", 2]}) == {"tags": ["甲", 2]}
    assert refusal(form(free), {"tags": [{"nested": ["deep"]}]}) == {"tags": ["应为文本或数字"]}
    assert refusal(form(free), {"tags": ["x", "x"]}) == {"tags": ["不能重复选择：x"]}


def test_dynamic_list_rows_are_capped(monkeypatch):
    rows = {
        "id": "rows",
        "type": "dynamiclist",
        "path": "rows",
        "label": "明细",
        "components": [{"id": "item", "type": "textfield", "key": "item", "label": "项目"}],
    }
    monkeypatch.setenv("BPM_FORM_MAX_LIST_ITEMS", "2")
    assert validate_submission(form(rows), {"rows": [{"item": "a"}, {"item": "b"}]})
    assert refusal(form(rows), {"rows": [{"item": "a"}, {"item": "b"}, {"item": "c"}]}) == {"rows": ["最多 2 项"]}


def test_text_without_a_max_length_is_capped_and_a_form_max_length_is_kept():
    line = {"id": "title", "type": "textfield", "key": "title", "label": "标题"}
    area = {"id": "body", "type": "textarea", "key": "body", "label": "正文"}
    long_area = {**area, "validate": {"maxLength": 50000}}
    assert refusal(form(line), {"title": "字" * 1001}) == {"title": ["长度不能超过 1000 个字符"]}
    assert validate_submission(form(area), {"body": "字" * 20000})
    assert refusal(form(area), {"body": "字" * 20001}) == {"body": ["长度不能超过 20000 个字符"]}
    assert validate_submission(form(long_area), {"body": "字" * 30000})


def test_a_length_message_names_only_the_bounds_the_form_sets():
    def text(rules: dict) -> dict:
        return form({"id": "code", "type": "textfield", "key": "code", "label": "编号", "validate": rules})

    assert refusal(text({"maxLength": 10}), {"code": "字" * 11}) == {"code": ["长度不能超过 10 个字符"]}
    assert refusal(text({"minLength": 3}), {"code": "字"}) == {"code": ["长度至少 3 个字符"]}
    assert refusal(text({"minLength": 3}), {"code": "字" * 1001}) == {"code": ["长度不能超过 1000 个字符"]}
    assert refusal(text({"minLength": 3, "maxLength": 10}), {"code": "字"}) == {"code": ["长度应在 3 到 10 个字符之间"]}
    assert validate_submission(text({"minLength": 3}), {"code": "字" * 3}) == {"code": "字" * 3}


def test_a_backtracking_pattern_answers_at_once():
    code = {"id": "code", "type": "textfield", "key": "code", "label": "编号", "validate": {"pattern": "^(a+)+$"}}
    started = time.monotonic()
    assert refusal(form(code), {"code": "a" * 30 + "b"}) == {"code": ["格式不正确"]}
    assert time.monotonic() - started < 0.5
    assert validate_submission(form(code), {"code": "aaa"}) == {"code": "aaa"}


def test_a_pattern_of_an_old_version_that_re2_cannot_run_does_not_block_its_cases():
    """Deploy refuses such a pattern now; a version deployed before keeps accepting submissions."""
    code = {"id": "code", "type": "textfield", "key": "code", "label": "编号", "validate": {"pattern": "^(x)\\1("}}
    assert validate_submission(form(code), {"code": "xx"}) == {"code": "xx"}


def test_one_person_chosen_many_times_makes_no_tasks(api):
    case = api.start("t_vote", "emp")
    task = api.open_task(case["id"], "emp", "apply")
    r = api.post(f"/tasks/{task['id']}/complete", "emp", {"data": {"subject": "采购", "approvers": ["mr"] * 500}})
    assert r.status_code == 400, r.json
    assert set(r.json["errors"]["approvers"]) == {"最多 200 项", "不能重复选择：mr"}
    r = api.post(f"/tasks/{task['id']}/complete", "emp", {"data": {"subject": "采购", "approvers": ["mr", "gm", "mr"]}})
    assert r.status_code == 400 and r.json["errors"]["approvers"] == ["不能重复选择：mr"]
    assert [t["element_id"] for t in api.case(case["id"])["tasks"] if t["state"] == "open"] == ["apply"]
