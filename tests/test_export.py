"""`bpm export DIR`: the live versions written back as a library that deploys to the same content."""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import bpmcli
from engine.config import PROJECT_ROOT
from engine.definitions.deploy import deploy, deploy_folder
from engine.definitions.export import export_library, live_versions
from engine.errors import DefinitionError
from engine.org.demo import ensure_roles
from engine.store.db import Database, fresh_postgres_database
from engine.store.models import ProcessDefinition
from engine.store.schema import upgrade

TEST_LIBRARY = PROJECT_ROOT / "tests" / "library"
T_RULE = (TEST_LIBRARY / "bpmn" / "t_rule.dmn").read_text(encoding="utf-8")

RULE_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="t_export_rule_defs" targetNamespace="x">
  <bpmn:process id="t_export_rule" name="导出测试：决策表" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:businessRuleTask id="rule" name="定级">
      <bpmn:extensionElements><spiffworkflow:calledDecisionId>t_level</spiffworkflow:calledDecisionId></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:businessRuleTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="rule"/>
    <bpmn:sequenceFlow id="f2" sourceRef="rule" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture(scope="module")
def lib(own_database) -> Database:
    """The project's library and the test library deployed, as the session-wide `db` has them."""
    return own_database("export")


@pytest.fixture
def fresh_db(tmp_path):
    """An empty database with the role catalogue only: nothing deployed yet."""
    url = os.environ.get("DATABASE_URL", "")
    url = (
        fresh_postgres_database(url, "_bpm_pytest_export_fresh")
        if url.startswith("postgres")
        else f"sqlite:///{tmp_path / 'fresh.db'}"
    )
    database = Database(url)
    upgrade(database)
    with database.session(write=True) as session:
        ensure_roles(session)
    yield database
    database.dispose()


@contextmanager
def scratch(database: Database):
    """A write session whose changes are thrown away."""
    with database.session(write=True) as session:
        yield session
        session.rollback()


def written(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_the_exported_library_deploys_to_the_same_content(lib, fresh_db, tmp_path):
    out = tmp_path / "library"
    with lib.session() as session:
        result = export_library(session, out)
        live = {v.process_key: v for v in live_versions(session)}

        procedures = set(session.scalars(select(ProcessDefinition.key)))
    assert set(live) == procedures and {"process_change", "t_quick"} <= procedures
    assert {p for p in result.files if p.endswith(".bpmn")} == {f"bpmn/{key}.bpmn" for key in procedures}
    assert (result.procedures, result.decisions) == (len(live), 4)
    assert result.forms == len({key for v in live.values() for key in v.forms})
    assert result.files == written(out)
    assert result.not_live == []

    # Byte for byte: the diagrams as stored, and forms and tables as the library keeps them.
    for key, version in live.items():
        assert (out / "bpmn" / f"{key}.bpmn").read_bytes() == version.bpmn_xml.encode("utf-8")
    project_forms = sorted((PROJECT_ROOT / "forms").glob("*.form"))
    exported_project_forms = [p for p in project_forms if (out / "forms" / p.name).exists()]
    assert len(exported_project_forms) == len(project_forms) == 226
    for path in project_forms:
        assert (out / "forms" / path.name).read_bytes() == path.read_bytes(), path.name
    # Into an empty folder, each table is named after its one decision.
    assert [p for p in result.files if p.endswith(".dmn")] == [
        "bpmn/incident_priority.dmn",
        "bpmn/service_doc_review_level.dmn",
        "bpmn/service_risk_level.dmn",
        "bpmn/t_level.dmn",
    ]
    assert (out / "bpmn" / "service_risk_level.dmn").read_bytes() == (
        PROJECT_ROOT / "bpmn" / "risk_level.dmn"
    ).read_bytes()
    assert (out / "bpmn" / "t_level.dmn").read_text(encoding="utf-8") == T_RULE
    # The test library's forms were not written as the library writes them: now they are.
    assert json.loads((out / "forms" / "t_note.form").read_text(encoding="utf-8")) == live["t_quick"].forms["t_note"]

    # Deployed into a fresh database, every procedure gets exactly the live content.
    with fresh_db.session(write=True) as session:
        results = deploy_folder(session, out / "bpmn")
    assert {r.version.process_key: r.version.content_hash for r in results} == {
        key: version.content_hash for key, version in live.items()
    }
    assert all(r.created and r.version.version == 1 for r in results)


def test_exporting_into_a_checkout_of_the_library_changes_none_of_its_files(lib, tmp_path):
    checkout = tmp_path / "checkout"
    shutil.copytree(PROJECT_ROOT / "bpmn", checkout / "bpmn")
    shutil.copytree(PROJECT_ROOT / "forms", checkout / "forms")
    before = {path: (checkout / path).read_bytes() for path in written(checkout)}

    with lib.session() as session:
        result = export_library(session, checkout)

    assert result.not_live == []
    assert {path: (checkout / path).read_bytes() for path in before} == before
    # risk_level.dmn keeps its name although its decision is service_risk_level
    assert "bpmn/risk_level.dmn" in result.files and not (checkout / "bpmn" / "service_risk_level.dmn").exists()
    assert set(written(checkout)) - set(before) == {p for p in result.files if "/t_" in p}


def test_files_of_the_same_name_are_overwritten_and_others_kept_and_reported(lib, tmp_path):
    (tmp_path / "bpmn").mkdir()
    (tmp_path / "forms").mkdir()
    (tmp_path / "bpmn" / "retired.bpmn").write_text("<old/>", encoding="utf-8")
    retired_rule = T_RULE.replace('"t_level"', '"t_retired"')
    (tmp_path / "bpmn" / "retired_rule.dmn").write_text(retired_rule, encoding="utf-8")
    (tmp_path / "forms" / "retired.form").write_text("{}", encoding="utf-8")
    (tmp_path / "forms" / "change_assess.form").write_text("{}", encoding="utf-8")
    (tmp_path / "README.md").write_text("流程库", encoding="utf-8")

    with lib.session() as session:
        result = export_library(session, tmp_path)

    assert result.not_live == ["bpmn/retired.bpmn", "bpmn/retired_rule.dmn", "forms/retired.form"]
    assert (tmp_path / "bpmn" / "retired.bpmn").read_text(encoding="utf-8") == "<old/>"
    assert (tmp_path / "bpmn" / "retired_rule.dmn").read_text(encoding="utf-8") == retired_rule
    assert (tmp_path / "forms" / "retired.form").read_text(encoding="utf-8") == "{}"
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == "流程库"
    assert (tmp_path / "forms" / "change_assess.form").read_bytes() == (
        PROJECT_ROOT / "forms" / "change_assess.form"
    ).read_bytes()


def test_two_procedures_freezing_different_content_under_one_form_key_export_nothing(lib, tmp_path):
    (tmp_path / "forms").mkdir()
    (tmp_path / "forms" / "t_note.form").write_text("旧内容", encoding="utf-8")
    copy = (
        (TEST_LIBRARY / "bpmn" / "t_quick.bpmn")
        .read_text(encoding="utf-8")
        .replace('id="t_quick"', 'id="t_quick_copy"')
    )
    other_note = {
        "id": "t_note",
        "type": "default",
        "components": [{"id": "note", "type": "textarea", "key": "note", "label": "处理说明"}],
    }

    with scratch(lib) as session:
        deploy(session, copy, forms={"t_note": other_note}, folder=TEST_LIBRARY / "forms")
        with pytest.raises(DefinitionError) as raised:
            export_library(session, tmp_path)

    [error] = raised.value.errors
    assert "表单 t_note" in error["message"]
    assert "t_quick、" in error["message"] and "第 2 份：t_quick_copy" in error["message"]
    assert written(tmp_path) == ["forms/t_note.form"]
    assert (tmp_path / "forms" / "t_note.form").read_text(encoding="utf-8") == "旧内容"


def test_a_decision_table_changed_in_one_procedure_only_is_a_conflict_too(lib, tmp_path):
    changed = T_RULE.replace('name="测试等级"', 'name="测试等级（新）"')
    with scratch(lib) as session:
        deploy(session, RULE_DIAGRAM, decisions={"t_level": changed})
        with pytest.raises(DefinitionError) as raised:
            export_library(session, tmp_path)
    assert [e["message"] for e in raised.value.errors] == [
        "决策表文件 t_level.dmn 在以下流程的线上版本中内容不同——第 1 份：t_export_rule；第 2 份：t_features。"
        "无法导出为同一个文件，请先统一后再导出"
    ]
    assert written(tmp_path) == []


def test_bpm_export_command(lib, tmp_path):
    (tmp_path / "forms").mkdir()
    (tmp_path / "forms" / "retired.form").write_text("{}", encoding="utf-8")
    with lib.session() as session:
        procedures = len(live_versions(session))
    env = {"DATABASE_URL": lib.url, "BPM_LIBRARY": None, "BPM_ENV": None}
    result = CliRunner().invoke(bpmcli.main, ["export", str(tmp_path)], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    forms = len(list((tmp_path / "forms").glob("*.form"))) - 1
    assert result.output.splitlines() == [
        f"已导出 {procedures} 个流程、{forms} 个表单、4 个决策表到 {tmp_path}",
        "以下 1 个文件不在线上版本中（未删除）：",
        "  forms/retired.form",
    ]
    assert (tmp_path / "bpmn" / "process_change.bpmn").is_file()
