"""Writing the live version of every procedure back as library files (`bpm export DIR`), so an
organisation can keep its library in git and redeploy it with `bpm init --library` / `bpm deploy`.

Layout, as the library reads it:
  DIR/bpmn/<process_key>.bpmn   the version's diagram, byte for byte as stored
  DIR/bpmn/<name>.dmn           each distinct decision-table document the versions freeze, once; named
                                after its decision id, or after the DMN `definitions` id when the
                                document holds several decisions (SpiffWorkflow 3.2 refuses those, so
                                in practice a file per decision). A .dmn file already in DIR/bpmn that
                                defines the same decisions keeps its name, so exporting into a checkout
                                of the library does not rename its tables.
  DIR/forms/<form_key>.form     form-js JSON as the library writes it (indent 2, UTF-8, final newline)

Each version freezes its own copy of the forms and tables it uses, so two procedures may hold different
content under one name: then nothing is written and DefinitionError names both. Files already in DIR
are overwritten by name, never deleted; library files no live version accounts for are reported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.definitions import xmlparse
from engine.definitions.decisions import decision_ids
from engine.errors import DefinitionError
from engine.store.models import ProcessVersion

LIBRARY_FILES = (("bpmn", "*.bpmn"), ("bpmn", "*.dmn"), ("forms", "*.form"))
# A name becomes a file name: no separators, no hidden or parent-directory names.
SAFE_NAME = re.compile(r"[\w\-][\w.\-]*")


@dataclass
class ExportResult:
    procedures: int = 0
    forms: int = 0
    decisions: int = 0  # DMN documents written
    files: list[str] = field(default_factory=list)  # written, relative to the folder ("bpmn/x.bpmn")
    not_live: list[str] = field(default_factory=list)  # library files in the folder no live version accounts for


def form_text(form: dict) -> str:
    """A form file as the library keeps it (forms/*.form), so an export diffs cleanly in git."""
    return json.dumps(form, ensure_ascii=False, indent=2) + "\n"


def live_versions(session: Session) -> list[ProcessVersion]:
    """The highest version of every procedure, by process key."""
    highest = (
        select(ProcessVersion.process_key, func.max(ProcessVersion.version).label("version"))
        .group_by(ProcessVersion.process_key)
        .subquery()
    )
    return list(
        session.scalars(
            select(ProcessVersion)
            .join(
                highest,
                (ProcessVersion.process_key == highest.c.process_key) & (ProcessVersion.version == highest.c.version),
            )
            .order_by(ProcessVersion.process_key)
        )
    )


def export_library(session: Session, folder: Path) -> ExportResult:
    """Write every procedure's live version into `folder`; DefinitionError (and no file written)
    when two procedures freeze different content under one form key or decision-table file name."""
    versions = live_versions(session)
    existing_tables = _existing_tables(folder / "bpmn")
    files: dict[str, bytes] = {}  # relative path -> content; all checked before anything is written
    # name -> {content: [procedures holding it]}; JSON key order is not content, so forms compare sorted.
    form_copies: dict[str, dict[str, list[str]]] = {}
    table_copies: dict[str, dict[str, list[str]]] = {}
    for version in versions:
        key = version.process_key
        _check_name(key, "流程标识", key)
        files[f"bpmn/{key}.bpmn"] = version.bpmn_xml.encode("utf-8")
        for form_key, form in sorted((version.forms or {}).items()):
            _check_name(form_key, "表单标识", key)
            canonical = json.dumps(form, sort_keys=True, ensure_ascii=False)
            if form_key not in form_copies:
                files[f"forms/{form_key}.form"] = form_text(form).encode("utf-8")
            form_copies.setdefault(form_key, {}).setdefault(canonical, []).append(key)
        for dmn_xml in sorted(set((version.decisions or {}).values())):
            name = _dmn_name(dmn_xml, key, existing_tables)
            if name not in table_copies:
                files[f"bpmn/{name}.dmn"] = dmn_xml.encode("utf-8")
            table_copies.setdefault(name, {}).setdefault(dmn_xml, []).append(key)

    errors = [_conflict(f"表单 {name}", copies) for name, copies in sorted(form_copies.items()) if len(copies) > 1]
    errors += [
        _conflict(f"决策表文件 {name}.dmn", copies) for name, copies in sorted(table_copies.items()) if len(copies) > 1
    ]
    if errors:
        raise DefinitionError(errors)

    for path, content in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)  # bytes: no newline translation, the stored text exactly
    not_live = sorted(
        f"{sub}/{path.name}"
        for sub, pattern in LIBRARY_FILES
        for path in (folder / sub).glob(pattern)
        if path.is_file() and f"{sub}/{path.name}" not in files
    )
    return ExportResult(
        procedures=len(versions),
        forms=len(form_copies),
        decisions=len(table_copies),
        files=sorted(files),
        not_live=not_live,
    )


def _conflict(what: str, copies: dict[str, list[str]]) -> dict:
    groups = "；".join(f"第 {n} 份：{'、'.join(keys)}" for n, keys in enumerate(copies.values(), 1))
    return {
        "element_id": None,
        "message": f"{what} 在以下流程的线上版本中内容不同——{groups}。无法导出为同一个文件，请先统一后再导出",
    }


def _existing_tables(folder: Path) -> dict[frozenset, str]:
    """{the decision ids a .dmn file in the folder defines: its name without .dmn}."""
    found: dict[frozenset, str] = {}
    for path in sorted(folder.glob("*.dmn")) if folder.is_dir() else []:
        if not SAFE_NAME.fullmatch(path.stem):
            continue
        try:
            found.setdefault(frozenset(decision_ids(path.read_text(encoding="utf-8"), path.name)), path.stem)
        except (DefinitionError, UnicodeDecodeError):
            continue  # not a table we could have written: left alone
    return found


def _dmn_name(dmn_xml: str, owner: str, existing: dict[frozenset, str]) -> str:
    """The file name (without .dmn) for a decision-table document; see the module docstring."""
    ids = decision_ids(dmn_xml, f"{owner} 的决策表")
    if frozenset(ids) in existing:
        name = existing[frozenset(ids)]
    elif len(ids) == 1:
        name = ids[0]
    else:
        root = etree.fromstring(dmn_xml.encode("utf-8"), parser=xmlparse.hardened_parser())
        name = root.get("id") or ""
    _check_name(name, "决策表标识", owner)
    return name


def _check_name(name: str | None, what: str, owner: str) -> None:
    if not name or not SAFE_NAME.fullmatch(name):
        raise DefinitionError(
            [{"element_id": None, "message": f"流程 {owner} 的{what}“{name}”不能用作文件名，无法导出"}]
        )
