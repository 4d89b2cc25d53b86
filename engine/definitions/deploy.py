"""Deploying diagrams: validate, then store a new version unless the content is unchanged."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.config import forms_dir
from engine.definitions import schedules
from engine.definitions.decisions import DecisionLookup
from engine.definitions.forms_source import FormLookup
from engine.definitions.specs import start_event_specs
from engine.definitions.validation import ParsedDiagram, check_links, validate
from engine.definitions.vocabulary import Property
from engine.errors import DefinitionError, Forbidden, NotFound
from engine.org.service import role_codes
from engine.store.db import fits_32_bits
from engine.store.models import ProcessDefinition, ProcessVersion

CHANGE_PROCESS = "process_change"  # the library's 流程新增/变更审批, which governs every change (drafts.py)
GOVERNED_REFUSAL = (
    f"流程新增/变更审批（{CHANGE_PROCESS}）本身的变更须经管理者代表和总经理审批："
    f"请在模型设计器中“申请变更”，不能直接部署"
)


@dataclass
class DeployResult:
    version: ProcessVersion
    created: bool
    diagram: ParsedDiagram


def check(
    xml: str | bytes,
    *,
    known_roles: set[str],
    forms: dict | None = None,
    folder: Path | None = None,
    decisions: dict | None = None,
) -> tuple[ParsedDiagram, dict]:
    """Validate without storing: the diagram and the forms it uses. `folder` is the library's forms
    folder; decision tables are looked up in the diagrams folder beside it."""
    folder = folder if folder is not None else forms_dir()
    lookup = FormLookup(forms, folder)
    diagram = validate(
        xml,
        form_exists=lookup.exists,
        known_roles=known_roles,
        form_lookup=lookup.get,
        decision_lookup=DecisionLookup(decisions, folder.parent / "bpmn"),
    )
    form_keys = set(diagram.form_keys)
    missing = []
    for event_id, form_key in start_forms(diagram.spec).items():  # what a case is started with
        if lookup.exists(form_key):
            form_keys.add(form_key)
        else:
            missing.append({"element_id": event_id, "message": f"开始事件的表单不存在：{form_key}"})
    if missing:
        raise DefinitionError(missing)
    return diagram, {key: lookup.get(key) for key in sorted(form_keys)}


def start_forms(spec) -> dict[str, str]:
    """The start events that name a form (formKey): start data is checked against it."""
    forms = {}
    for event in start_event_specs(spec):
        form_key = ((getattr(event, "extensions", None) or {}).get("properties") or {}).get(Property.FORM_KEY)
        if form_key:
            forms[event.bpmn_id] = form_key
    return forms


def content_hash(xml: str, forms: dict, decisions: dict | None = None) -> str:
    digest = hashlib.sha256(xml.encode("utf-8"))
    digest.update(json.dumps(forms, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    if decisions:
        digest.update(json.dumps(decisions, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def deploy(
    session: Session,
    xml: str | bytes,
    *,
    forms: dict | None = None,
    folder: Path | None = None,
    decisions: dict | None = None,
    actor_id: int | None = None,
    note: str | None = None,
    source: str = "api",
    change_instance_id: int | None = None,
    draft_id: int | None = None,
) -> DeployResult:
    """Store the diagram as the next version, unless its content equals the live version's.
    `source` says how it went live (see ProcessVersion.source)."""
    if isinstance(xml, bytes):
        try:
            xml = xml.decode("utf-8")
        except UnicodeDecodeError:
            raise DefinitionError([{"element_id": None, "message": "文件不是 UTF-8 编码"}]) from None
    diagram, used_forms = check(xml, known_roles=role_codes(session), forms=forms, folder=folder, decisions=decisions)
    digest = content_hash(xml, used_forms, diagram.decisions)

    definition = session.get(ProcessDefinition, diagram.key, with_for_update=True)
    if definition is None:
        definition = ProcessDefinition(key=diagram.key, name=diagram.name, latest_version=0)
        session.add(definition)
    else:
        latest = latest_version(session, diagram.key)
        if latest is not None and latest.content_hash == digest:
            return DeployResult(latest, False, diagram)
        if latest is not None and diagram.key == CHANGE_PROCESS and source in ("api", "direct"):
            raise Forbidden(GOVERNED_REFUSAL)  # a new version only through its own approvals (drafts.activate)
    definition.name = diagram.name
    definition.owner_role = diagram.owner_role
    definition.category = diagram.category
    definition.latest_version += 1
    version = ProcessVersion(
        process_key=diagram.key,
        version=definition.latest_version,
        name=diagram.name,
        bpmn_xml=xml,
        forms=used_forms,
        decisions=diagram.decisions or None,
        content_hash=digest,
        deployed_by=actor_id,
        note=note,
        source=source,
        change_instance_id=change_instance_id,
        draft_id=draft_id,
    )
    session.add(version)
    session.flush()
    schedules.sync_schedules(session, diagram.key, start_event_specs(diagram.spec))
    return DeployResult(version, True, diagram)


def deploy_folder(session: Session, folder: Path, *, actor_id: int | None = None) -> list[DeployResult]:
    """Deploy every diagram in a folder; all or nothing (the caller's transaction)."""
    results: list[DeployResult] = []
    errors: list[dict] = []
    for path in sorted(folder.glob("*.bpmn")):
        try:
            results.append(
                deploy(
                    session,
                    path.read_bytes(),
                    folder=folder.parent / "forms",
                    actor_id=actor_id,
                    note=f"部署自 {path.name}",
                    source="library",
                )
            )
        except DefinitionError as exc:
            errors.extend({**e, "file": path.name} for e in exc.errors)
    if not errors:
        errors.extend(check_links([r.diagram for r in results]))
    if errors:
        raise DefinitionError(errors)
    return results


def latest_version(session: Session, key: str) -> ProcessVersion | None:
    return session.scalar(
        select(ProcessVersion).where(ProcessVersion.process_key == key).order_by(ProcessVersion.version.desc()).limit(1)
    )


def get_version(session: Session, key: str, version: int | None = None) -> ProcessVersion:
    if version is None:
        found = latest_version(session, key)
    elif not fits_32_bits(version):
        found = None
    else:
        found = session.scalar(
            select(ProcessVersion).where(ProcessVersion.process_key == key, ProcessVersion.version == version)
        )
    if found is None:
        raise NotFound(f"流程不存在：{key}" + (f" 版本 {version}" if version else ""))
    return found
