"""The `bpm` command line on a database of its own: init (--demo), users, deploy, validate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import bpmcli
from engine.config import PROJECT_ROOT
from engine.store.db import Database
from engine.store.models import ProcessDefinition, ProcessVersion, User

TESTS = Path(__file__).resolve().parent
TEST_BPMN = TESTS / "library" / "bpmn"
TEST_FORMS = TESTS / "library" / "forms"
BAD = TESTS / "library" / "bad"  # diagrams that must be refused; never deployed by the fixtures


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/cli.db"


@pytest.fixture
def bpm(db_url):
    """Run `bpm …` against the test's own database and the project's library."""
    runner = CliRunner()
    env = {"DATABASE_URL": db_url, "BPM_LIBRARY": None, "BPM_ENV": None}

    def run(*args: str):
        return runner.invoke(bpmcli.main, [str(a) for a in args], env=env, catch_exceptions=False)

    return run


@pytest.fixture
def database(db_url):
    opened = []

    def open_():
        db = Database(db_url)
        opened.append(db)
        return db

    yield open_
    for db in opened:
        db.dispose()


def versions(db: Database, key: str | None = None) -> list[tuple[str, int]]:
    with db.session() as session:
        query = select(ProcessVersion.process_key, ProcessVersion.version).order_by(
            ProcessVersion.process_key, ProcessVersion.version
        )
        if key is not None:
            query = query.where(ProcessVersion.process_key == key)
        return [tuple(row) for row in session.execute(query)]


def usernames(db: Database) -> set[str]:
    with db.session() as session:
        return set(session.scalars(select(User.username)))


def test_init_demo_sets_everything_up_and_a_second_init_changes_nothing(bpm, database):
    result = bpm("init", "--demo")
    assert result.exit_code == 0, result.output
    assert "已加载演示组织" in result.output
    assert "process_change" in result.output and "新版本 v1" in result.output, result.output

    db = database()
    assert versions(db, "process_change") == [("process_change", 1)]
    assert {"gm", "mr", "admin", "emp"} <= usernames(db)

    listing = bpm("users")
    assert listing.exit_code == 0, listing.output
    listed = {line.split()[0] for line in listing.output.splitlines() if line.strip()}
    assert {"gm", "mr"} <= listed, listing.output

    again = bpm("init", "--demo")
    assert again.exit_code == 0, again.output
    assert "未变化 v1" in again.output, again.output
    assert "新版本" not in again.output, again.output
    assert "已加载演示组织" not in again.output, "the demo organisation is loaded once"

    plain = bpm("init")
    assert plain.exit_code == 0, plain.output
    assert "未变化 v1" in plain.output, plain.output

    assert versions(db, "process_change") == [("process_change", 1)]
    with db.session() as session:
        assert session.get(ProcessDefinition, "process_change").latest_version == 1
        assert session.scalar(select(func.count()).select_from(User).where(User.username == "gm")) == 1


def test_init_without_demo_has_no_demo_users(bpm, database):
    result = bpm("init")
    assert result.exit_code == 0, result.output
    db = database()
    assert versions(db, "process_change") == [("process_change", 1)]
    assert "gm" not in usernames(db)


def test_init_with_a_bad_diagram_in_the_library_changes_nothing(bpm, database, tmp_path):
    library = tmp_path / "lib"
    (library / "bpmn").mkdir(parents=True)
    (library / "forms").mkdir()
    shutil.copy(TEST_FORMS / "t_note.form", library / "forms")
    shutil.copy(TEST_BPMN / "t_group.bpmn", library / "bpmn")
    shutil.copy(BAD / "bad_role_lane.bpmn", library / "bpmn")

    result = bpm("init", "--library", library / "bpmn")
    assert result.exit_code == 1, result.output
    assert "bad_role_lane.bpmn" in result.output and "[lane_nobody]" in result.output, result.output
    assert versions(database()) == [], "deploying a library is all or nothing"


def test_deploy_of_a_bad_diagram_exits_1_and_names_the_element(bpm, database):
    assert bpm("init").exit_code == 0
    db = database()
    before = versions(db)

    result = bpm("deploy", BAD / "bad_role_lane.bpmn")
    assert result.exit_code == 1, result.output
    assert "bad_role_lane.bpmn" in result.output, result.output
    assert "lane_nobody" in result.output and "chief_wizard" in result.output, result.output

    result = bpm("deploy", BAD / "bad_script_import.bpmn")
    assert result.exit_code == 1, result.output
    assert "run_shell" in result.output and "import" in result.output, result.output

    assert versions(db) == before
    with db.session() as session:
        assert session.get(ProcessDefinition, "bad_role_lane") is None
        assert session.get(ProcessDefinition, "bad_script_import") is None


def test_deploy_of_a_good_diagram_makes_a_version_once(bpm, database):
    assert bpm("init").exit_code == 0
    result = bpm("deploy", TEST_BPMN / "t_group.bpmn")
    assert result.exit_code == 0, result.output
    assert "t_group v1" in result.output, result.output

    again = bpm("deploy", TEST_BPMN / "t_group.bpmn")
    assert again.exit_code == 0, again.output
    assert "t_group v1" in again.output and "未变化" in again.output, again.output
    assert versions(database(), "t_group") == [("t_group", 1)]


def test_validate_dir_with_one_bad_file_exits_1_naming_file_and_element(bpm, tmp_path):
    library = tmp_path / "lib"
    (library / "bpmn").mkdir(parents=True)
    (library / "forms").mkdir()
    shutil.copy(TEST_FORMS / "t_note.form", library / "forms")
    shutil.copy(TEST_BPMN / "t_group.bpmn", library / "bpmn")
    shutil.copy(BAD / "bad_script_import.bpmn", library / "bpmn")

    result = bpm("validate", library / "bpmn")
    assert result.exit_code == 1, result.output
    assert f"{library / 'bpmn' / 'bad_script_import.bpmn'}: 未通过" in result.output, result.output
    assert "[run_shell]" in result.output and "import" in result.output, result.output
    assert f"{library / 'bpmn' / 't_group.bpmn'}: 通过" in result.output, "the good file is still checked"


def test_validate_the_bad_folder_reports_every_file(bpm):
    result = bpm("validate", BAD)
    assert result.exit_code == 1, result.output
    assert "bad_role_lane.bpmn: 未通过" in result.output and "[lane_nobody]" in result.output, result.output
    assert "bad_script_import.bpmn: 未通过" in result.output and "[run_shell]" in result.output, result.output


def test_validate_a_single_file(bpm, tmp_path):
    good = bpm("validate", PROJECT_ROOT / "bpmn" / "process_change.bpmn")
    assert good.exit_code == 0, good.output
    assert "通过" in good.output

    not_bpmn = tmp_path / "page.bpmn"
    not_bpmn.write_text('<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', encoding="utf-8")
    bad = bpm("validate", not_bpmn)
    assert bad.exit_code == 1, bad.output
    assert "page.bpmn: 未通过" in bad.output and "BPMN" in bad.output, bad.output


def test_validate_an_empty_folder_fails(bpm, tmp_path):
    result = bpm("validate", tmp_path)
    assert result.exit_code == 1, result.output
    assert ".bpmn" in result.output
