"""Versions in the pages: an admin migrates a running case to the new version after a dry run, and a
process owner rolls back to an old version (a draft, which then takes the governed path)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

KEY = "document_borrow"


def test_dry_run_then_migrate_then_roll_back(page_as, live_api):
    old = live_api.start(KEY, "emp")  # waits at 填写文件借阅、复制记录 on V1
    live = live_api.get(f"/processes/{KEY}/content", "admin")
    renamed = live["bpmn_xml"].replace('name="本部门负责人同意"', 'name="本部门负责人审核同意"')
    draft = live_api.post(
        f"/processes/{KEY}/drafts", "admin", {"bpmn_xml": renamed, "forms": live["forms"]}, expect=201
    )
    version = live_api.post(f"/drafts/{draft['id']}/deploy", "admin", {"note": "步骤改名"}, expect=201)["version"]

    admin = page_as("admin")
    admin.goto(f"/processes/{KEY}")
    expect(admin.locator(f'#versions tr[data-version="{version}"]')).to_contain_text("管理员直接部署")
    admin.get_by_role("link", name="迁移运行中的案件").click()
    row = admin.locator(f'#migration tr[data-instance="{old["id"]}"]')
    expect(row).to_contain_text(f"V{version - 1}")
    admin.locator("#dry-run").click()
    expect(row.locator(".result")).to_have_text("可以迁移")
    assert live_api.get(f"/instances/{old['id']}", "admin")["version"] == version - 1  # a dry run moves nothing
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.locator("#run-migration").click()
    expect(row.locator(".result")).to_have_text(f"已迁移到 V{version}")
    moved = live_api.get(f"/instances/{old['id']}", "admin")
    assert moved["version"] == version
    assert moved["history"][-1]["type"] == "migrated"

    # 企管部 owns this procedure (ownerRole qg): it rolls back to V1, as a draft that takes the governed path
    qg = page_as("qg_staff")
    qg.goto(f"/processes/{KEY}")
    qg.once("dialog", lambda dialog: dialog.accept())
    qg.locator(f'#versions tr[data-version="{version - 1}"] button.rollback').click()
    expect(qg).to_have_url(re.compile(rf"/modeler/{KEY}\?draft=\d+$"))
    expect(qg.locator("#canvas[data-state=ready]")).to_have_count(1)
    assert 'name="本部门负责人同意"' in qg.evaluate("BPM_MODELER.draft.bpmn_xml")
    assert live_api.get(f"/processes/{KEY}/content", "admin")["version"] == version  # nothing live yet
