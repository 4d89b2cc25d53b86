"""Validation that no diagram can stall or crash (issue 13, items 4, 11, 14, 15): who may validate,
size limits, no write lock while validating, form patterns checked at deploy, one hardened XML
parser, and refusals in Chinese that name their element."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from test_definitions import (
    DEMO_ROLES,
    START,
    definitions,
    end,
    flow,
    lane_set,
    one_task,
    read_form,
    refused,
    script_task,
    unique_key,
    user_task,
    with_condition,
    with_script,
)

from engine import limits
from engine.definitions import deploy as deployment
from engine.definitions import xmlparse
from engine.definitions.cache import SpecCache
from engine.definitions.decisions import decision_ids
from engine.definitions.validation import validate
from engine.errors import DefinitionError
from engine.store.models import ProcessVersion

BAD = Path(__file__).parent / "library" / "bad"
CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_SENTENCE = re.compile(r"[A-Za-z]{2,} [A-Za-z]{2,} [A-Za-z]{2,}")  # three English words in a row


def assert_chinese(message: str) -> None:
    assert CJK.search(message), message
    assert not ENGLISH_SENTENCE.search(message), f"English sentence in a refusal: {message}"
    assert "<bpmn" not in message and "Error(" not in message, f"internals in a refusal: {message}"


def validate_file(name: str) -> list[dict]:
    with pytest.raises(DefinitionError) as refusal:
        validate(
            (BAD / name).read_bytes(),
            form_exists=lambda key: True,
            known_roles=DEMO_ROLES,
            form_lookup=lambda key: {"components": []},
        )
    return refusal.value.errors


# ---------------------------------------------------------------------------------------------
# Item 15: refusals name their element, in Chinese
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, element_id, fragment",
    [
        ("h_task_outside_lanes.bpmn", "check_paper", "任务“核对纸质材料”不在任何泳道中"),
        ("h_task_outside_lanes.bpmn", "stamp", "人工任务“盖章”不在任何泳道中"),
        ("h_compensation.bpmn", "undo_booking", "边界事件“撤销预订”：补偿事件（compensation）尚不支持"),
        ("h_compensation.bpmn", "cancel_booking", "补偿活动（isForCompensation）尚不支持"),
        ("h_complex_gateway.bpmn", "vote", "复杂网关（complexGateway）无法执行"),
        ("h_chain_600.bpmn", "step_399", "依次相连的元素超过 400 个"),
        ("h_two_outgoing.bpmn", "calc", "脚本任务“计算金额”：有多条流出连线，但只有网关可以分支"),
        ("h_gateway_without_condition.bpmn", "f_big", "连线“超限”：这条从排他/包容网关流出的连线既没有条件"),
    ],
)
def test_a_refused_diagram_is_told_in_chinese_on_its_element(name, element_id, fragment):
    errors = validate_file(name)
    on_element = [e["message"] for e in errors if e["element_id"] == element_id]
    assert any(fragment in message for message in on_element), errors
    for e in errors:
        assert_chinese(e["message"])


def test_a_plain_task_outside_every_lane_is_refused_at_deploy(db):
    errors = refused(db, (BAD / "h_task_outside_lanes.bpmn").read_bytes(), "h_task_outside_lanes")
    assert {e["element_id"] for e in errors} == {"check_paper", "stamp"}


def test_every_refusal_in_the_bad_library_names_an_element():
    for path in sorted(BAD.glob("*.bpmn")):
        if path.name == "h_doctype_entity.bpmn":
            continue  # a whole-document refusal
        errors = validate_file(path.name)
        assert all(e["element_id"] for e in errors), (path.name, errors)


def test_a_dangling_sequence_flow_is_named_and_said_in_chinese():
    key = unique_key()
    xml = definitions(key, "\n".join([START, end("f1"), flow("f1", "start", "gone")]))
    with pytest.raises(DefinitionError) as refusal:
        validate(xml, form_exists=lambda k: True, known_roles=DEMO_ROLES)
    [error] = refusal.value.errors
    assert error["element_id"] == "f1" and "targetRef=“gone”" in error["message"]
    assert_chinese(error["message"])


def test_a_schema_violation_names_the_element_it_is_on():
    key = unique_key()
    xml = definitions(
        key, "\n".join([START, end("f1"), flow("f1", "start", "end"), '<bpmn:userTask id="late" name="放错位置"/>'])
    ).replace('id="late" name="放错位置"', 'id="late" name="放错位置" nonsense="1"')
    with pytest.raises(DefinitionError) as refusal:
        validate(xml, form_exists=lambda k: True, known_roles=DEMO_ROLES)
    [error] = refusal.value.errors
    assert error["element_id"] == "late", error
    assert "用户任务“放错位置”" in error["message"] and "nonsense" in error["message"]


def test_a_duplicate_id_and_a_script_task_without_script_are_named():
    key = unique_key()
    with pytest.raises(DefinitionError) as refusal:
        validate(one_task(key).replace('id="f2"', 'id="f1"'), form_exists=lambda k: True, known_roles=DEMO_ROLES)
    assert refusal.value.errors == [
        {"element_id": "f1", "message": "不符合 BPMN 2.0 规范（第 9 行，连线 f1）：标识 f1 重复：每个元素的 id 须唯一"}
    ]
    empty = with_script(key, "x = 1").replace("<bpmn:script>x = 1</bpmn:script>", "")
    with pytest.raises(DefinitionError) as refusal:
        validate(empty, form_exists=lambda k: True, known_roles=DEMO_ROLES)
    assert refusal.value.errors == [
        {"element_id": "calc", "message": "脚本任务“脚本”没有脚本：请填写脚本，或改用其他任务类型"}
    ]


def test_a_long_chain_that_works_today_still_validates_and_runs(api):
    key = unique_key("t_chain")
    steps = 380
    nodes = [START.replace("f1", "c0")]
    nodes += [script_task(f"s{i}", f"n = {i}", f"c{i}", f"c{i + 1}") for i in range(steps)]
    nodes += [
        lane_set(("lane_a", "initiator", ["a"])),
        user_task("a", "确认", f"c{steps}", "z"),
        end("z"),
        flow("c0", "start", "s0"),
    ]
    nodes += [flow(f"c{i + 1}", f"s{i}", f"s{i + 1}") for i in range(steps - 1)]
    nodes += [flow(f"c{steps}", f"s{steps - 1}", "a"), flow("z", "a", "end")]
    r = api.post(
        "/processes",
        "admin",
        {"bpmn_xml": definitions(key, "\n".join(nodes)), "forms": {"t_note": read_form("t_note")}},
    )
    assert r.status_code == 201, r.json
    case = api.start(key, "emp")
    assert case["status"] == "running" and api.case(case["id"])["data"]["n"] == steps - 1


# ---------------------------------------------------------------------------------------------
# Item 4: who may validate, size limits, 400 instead of 500, no write lock
# ---------------------------------------------------------------------------------------------

OWNED_BY_HR = "training_request"
OWNED_BY_QG = "corrective_action"


def test_validation_is_for_those_who_may_edit_diagrams(api):
    xml = api.get(f"/processes/{OWNED_BY_HR}/content", "admin").json["bpmn_xml"]
    body = {"bpmn_xml": xml, "forms": {}, "process_key": OWNED_BY_HR}
    r = api.post("/definitions/validate", "emp", body)
    assert r.status_code == 403 and "流程所有者" in r.json["message"]
    assert api.post("/definitions/validate", "emp", {**body, "process_key": None}).status_code == 403
    assert api.post("/definitions/validate", "mr", body).status_code == 403
    assert api.post("/definitions/validate", "hr_head", body).json == {"valid": True, "errors": []}
    assert api.post("/definitions/validate", "hr_head", {**body, "process_key": None}).json["valid"] is True
    assert api.post("/definitions/validate", "hr_head", {**body, "process_key": OWNED_BY_QG}).status_code == 403
    assert api.post("/definitions/validate", "admin", body).json["valid"] is True


def _with_script_of(size: int) -> str:
    return with_script(unique_key(), "x = 1\n" + "#" * size)


def test_a_diagram_over_the_size_limit_is_refused_at_once_with_400(api):
    started = time.monotonic()
    r = api.post("/definitions/validate", "admin", {"bpmn_xml": _with_script_of(6 * 1024 * 1024), "forms": {}})
    assert time.monotonic() - started < 5
    assert r.status_code == 400, r.json
    assert "流程图文件过大" in r.json["errors"][0]["message"] and "2048 KB" in r.json["errors"][0]["message"]


def test_a_long_script_is_refused_on_its_element(api):
    r = api.post("/definitions/validate", "admin", {"bpmn_xml": _with_script_of(30_000), "forms": {}})
    assert r.status_code == 200 and r.json["valid"] is False
    [error] = [e for e in r.json["errors"] if e["element_id"] == "calc"]
    assert "脚本过长" in error["message"] and "20000" in error["message"]


def test_the_code_of_one_diagram_is_bounded_in_total_so_its_check_stays_short(api):
    key = unique_key()
    body = "\n".join(f"v{i} = {i} + 1" for i in range(1300))  # 19,879 characters: under the script limit
    steps = 12
    nodes = [START.replace("f1", "c0"), end(f"c{steps}"), flow("c0", "start", "s0")]
    nodes += [script_task(f"s{i}", body, f"c{i}", f"c{i + 1}") for i in range(steps)]
    nodes += [flow(f"c{i + 1}", f"s{i}", f"s{i + 1}") for i in range(steps - 1)]
    nodes.append(flow(f"c{steps}", f"s{steps - 1}", "end"))
    started = time.monotonic()
    r = api.post("/definitions/validate", "admin", {"bpmn_xml": definitions(key, "\n".join(nodes)), "forms": {}})
    assert time.monotonic() - started < 2
    assert r.json["valid"] is False
    assert r.json["errors"] == [
        {
            "element_id": key,
            "message": "流程中的脚本和表达式合计 238548 个字符，上限 200000"
            "（BPM_MAX_CODE_CHARS_TOTAL）：请精简，或把计算拆到多个流程",
        }
    ]


def test_a_100000_term_expression_is_refused_not_a_server_error(api):
    xml = with_condition(unique_key(), "+".join(["1"] * 100_000))
    r = api.post("/definitions/validate", "admin", {"bpmn_xml": xml, "forms": {}})
    assert r.status_code == 200 and r.json["valid"] is False
    assert r.json["errors"][0]["element_id"] == "f_yes" and "表达式过长" in r.json["errors"][0]["message"]
    r = api.post("/processes", "admin", {"bpmn_xml": xml})
    assert r.status_code == 400 and r.json["errors"][0]["element_id"] == "f_yes"


@pytest.mark.parametrize(
    "source, expression",
    [
        ("total = " + "+".join(["1"] * 800), False),  # 1,600 characters: under the length limit
        ("-" * 1500 + "1 > 0", True),
        ("[" * 150 + "1" + "]" * 150 + " == 0", True),
    ],
)
def test_code_nested_too_deep_is_refused_on_its_element(api, source, expression):
    xml = with_condition(unique_key(), source) if expression else with_script(unique_key(), source)
    r = api.post("/definitions/validate", "admin", {"bpmn_xml": xml, "forms": {}})
    assert r.status_code == 200 and r.json["valid"] is False, r.json
    [error] = [e for e in r.json["errors"] if e["element_id"] == ("f_yes" if expression else "calc")]
    assert "嵌套过深" in error["message"]


def test_size_limits_are_configurable(api, monkeypatch):
    xml = with_condition(unique_key(), "1 + 1 + 1 > 2")
    assert api.post("/definitions/validate", "admin", {"bpmn_xml": xml, "forms": {}}).json["valid"] is True
    monkeypatch.setenv("BPM_MAX_EXPRESSION_CHARS", "5")
    r = api.post("/definitions/validate", "admin", {"bpmn_xml": xml, "forms": {}}).json
    assert r["valid"] is False and "上限 5" in r["errors"][0]["message"]
    monkeypatch.setenv("BPM_MAX_EXPRESSION_CHARS", "2000")
    monkeypatch.setenv("BPM_MAX_CODE_NESTING", "2")
    r = api.post("/definitions/validate", "admin", {"bpmn_xml": xml, "forms": {}}).json
    assert r["valid"] is False and "嵌套过深" in r["errors"][0]["message"]
    monkeypatch.setenv("BPM_MAX_DIAGRAM_KB", "1")
    assert api.post("/definitions/validate", "admin", {"bpmn_xml": xml, "forms": {}}).status_code == 400
    monkeypatch.setenv("BPM_MAX_DIAGRAM_KB", "lots")
    with pytest.raises(ValueError, match="BPM_MAX_DIAGRAM_KB"):
        limits.DIAGRAM_KB.value()


@pytest.fixture(scope="module")
def vapi(own_database, api_on):
    return api_on(own_database("validation_lock"))


def test_concurrent_validations_take_no_write_lock(vapi, monkeypatch):
    """Eight validations in progress at once (held inside the checks) while a case starts: the start
    goes through at once and every validation answers."""
    callers = 8
    inside, release = threading.Semaphore(0), threading.Event()
    real_check = deployment.check

    def held_check(*args, **kwargs):
        inside.release()
        release.wait(timeout=60)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(deployment, "check", held_check)
    xml = vapi.get(f"/processes/{OWNED_BY_HR}/content", "admin").json["bpmn_xml"]
    token = vapi.token("hr_head")
    vapi.token("emp")
    answers = []

    def validate_once():
        client = vapi.client.application.test_client()
        r = client.post(
            "/api/v1/definitions/validate",
            headers={"Authorization": f"Bearer {token}"},
            json={"bpmn_xml": xml, "forms": {}, "process_key": OWNED_BY_HR},
        )
        answers.append((r.status_code, r.json))

    threads = [threading.Thread(target=validate_once) for _ in range(callers)]
    for thread in threads:
        thread.start()
    try:
        entered, deadline = 0, time.monotonic() + 10
        while entered < callers and inside.acquire(timeout=max(0.0, deadline - time.monotonic())):
            entered += 1
        started = time.monotonic()
        r = vapi.post("/processes/t_quick/instances", "emp", {"data": {}})
        write_seconds = time.monotonic() - started
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=60)
    assert r.status_code == 201, r.json
    assert write_seconds < 5, f"the write waited {write_seconds:.1f} s behind validations"
    assert entered == callers, f"only {entered} of {callers} validations could run at the same time"
    assert answers == [(200, {"valid": True, "errors": []})] * callers, answers


# ---------------------------------------------------------------------------------------------
# Item 11: form patterns checked at deploy
# ---------------------------------------------------------------------------------------------


def _form_with_pattern(pattern: str) -> dict:
    return {
        "type": "default",
        "components": [
            {"id": "code", "type": "textfield", "key": "code", "label": "编号", "validate": {"pattern": pattern}}
        ],
    }


@pytest.mark.parametrize("pattern", [r"^(\w)\1$", r"^(?=.*\d).+$", r"^(?<!x)a", "[unclosed"])
def test_a_form_pattern_re2_cannot_run_is_refused_at_deploy_naming_form_and_field(api, pattern):
    key = unique_key()
    r = api.post(
        "/processes",
        "admin",
        {"bpmn_xml": one_task(key, form_key="t_code"), "forms": {"t_code": _form_with_pattern(pattern)}},
    )
    assert r.status_code == 400, r.json
    [error] = r.json["errors"]
    assert error["element_id"] == "a"
    assert "表单 t_code 的字段“编号”（code）" in error["message"] and "无法使用" in error["message"]
    assert api.get(f"/processes/{key}", "admin").status_code == 404


def test_a_backtracking_pattern_deploys_and_matches_in_linear_time(api):
    key = unique_key()
    r = api.post(
        "/processes",
        "admin",
        {"bpmn_xml": one_task(key, form_key="t_code"), "forms": {"t_code": _form_with_pattern(r"^(a+)+$")}},
    )
    assert r.status_code == 201, r.json
    case = api.start(key, "emp")
    task = api.open_task(case["id"], "emp", "a")
    started = time.monotonic()
    r = api.post(f"/tasks/{task['id']}/complete", "emp", {"data": {"code": "a" * 28 + "b"}})
    assert time.monotonic() - started < 1
    assert r.status_code == 400 and r.json["errors"] == {"code": ["格式不正确"]}
    api.complete(task["id"], "emp", {"code": "aaaa"})


# ---------------------------------------------------------------------------------------------
# Item 14: one hardened XML parser for validation and run time
# ---------------------------------------------------------------------------------------------


def test_a_diagram_declaring_entities_is_refused_at_validation():
    with pytest.raises(DefinitionError) as refusal:
        validate((BAD / "h_doctype_entity.bpmn").read_bytes(), form_exists=lambda k: True, known_roles=DEMO_ROLES)
    [error] = refusal.value.errors
    assert "DOCTYPE" in error["message"] and error["message"].startswith("流程图不能包含")


def test_the_runtime_parses_a_stored_version_as_validation_does():
    """A version stored before this check (or written to the database by hand) is parsed at run time
    with the same parser: its entity is never expanded into the running diagram."""
    xml = (BAD / "h_doctype_entity.bpmn").read_text(encoding="utf-8")
    version = ProcessVersion(
        id=-13, process_key="h_doctype_entity", version=1, bpmn_xml=xml, forms={}, content_hash="entity"
    )
    with pytest.raises(xmlparse.DoctypeRefused):
        SpecCache._compile(version)


def test_a_decision_table_declaring_entities_is_refused():
    dmn = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]>'
        '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="&x;"/>'
    )
    with pytest.raises(DefinitionError) as refusal:
        decision_ids(dmn, "rules.dmn")
    assert "rules.dmn: 决策表不能包含 DOCTYPE" in refusal.value.errors[0]["message"]
