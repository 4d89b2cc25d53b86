"""Parsed specs, once per version: a version's content never changes, so any process may cache it."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from sqlalchemy import select

from engine.definitions import xmlparse
from engine.definitions.specs import safe_targets, start_event_specs, timer_event_spec
from engine.definitions.validation import BPMN, starter_roles_of
from engine.store.models import ProcessVersion


@dataclass(frozen=True)
class CompiledVersion:
    version_id: int
    process_key: str
    version: int
    spec: Any  # SpiffWorkflow's BpmnProcessSpec (untyped)
    subprocess_specs: dict
    forms: dict
    starter_roles: frozenset = frozenset()
    has_timers: bool = False  # any timer event a case can wait on (timer starts are schedules)
    return_targets: frozenset = frozenset()  # steps a case may be taken back to (runtime/rewind.py)


class SpecCache:
    def __init__(self, max_entries: int = 512):
        self._entries: dict[tuple[int, str], CompiledVersion] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, version: ProcessVersion) -> CompiledVersion:
        # Keyed by content too: one process may serve several databases (tests, tools), whose
        # version ids coincide.
        key = (version.id, version.content_hash)
        compiled = self._entries.get(key)
        if compiled is None:
            compiled = self._compile(version)
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[key] = compiled
        return compiled

    def of(self, session, version_id: int) -> CompiledVersion:
        """The compiled version a case runs on, reading the version's row (diagram, forms) only on a miss:
        what every step of a case needs, at the cost of one narrow query."""
        content_hash = session.scalar(select(ProcessVersion.content_hash).where(ProcessVersion.id == version_id))
        compiled = self._entries.get((version_id, content_hash))
        return compiled if compiled is not None else self.get(session.get(ProcessVersion, version_id))

    @staticmethod
    def _compile(version: ProcessVersion) -> CompiledVersion:
        parser = SpiffBpmnParser()
        for dmn_xml in set((version.decisions or {}).values()):
            parser.add_dmn_xml(xmlparse.parse(dmn_xml))
        root = xmlparse.parse(version.bpmn_xml)  # the parser validation used: no entity expanded
        parser.add_bpmn_xml(root, filename=f"{version.process_key}.bpmn")
        spec = parser.get_spec(version.process_key)
        subprocess_specs = parser.get_subprocess_specs(version.process_key)
        _connect_loops([spec, *subprocess_specs.values()])
        process = root.find(f"{{{BPMN}}}process[@id='{version.process_key}']")
        return CompiledVersion(
            version.id,
            version.process_key,
            version.version,
            spec,
            subprocess_specs,
            version.forms or {},
            frozenset(starter_roles_of(process)),
            _waits_on_timers([spec, *subprocess_specs.values()]),
            safe_targets(spec),
        )


def _connect_loops(specs) -> None:
    """A multi-instance task hears that an item is done through an event it connects when it creates the
    items. A case loaded on freshly parsed specs (after a restart, a cache eviction, a migration) created
    its items elsewhere, so connect them here, as SpiffWorkflow's own spec deserializer does."""
    for process in specs:
        for task_spec in process.task_specs.values():
            if isinstance(task_spec, LoopTask):
                item = process.task_specs.get(task_spec.task_spec)
                if item is not None and not item.completed_event.is_connected(task_spec.merge_child):
                    item.completed_event.connect(task_spec.merge_child)


def _waits_on_timers(specs) -> bool:
    starts = {id(s) for spec in specs for s in start_event_specs(spec)}
    return any(
        timer_event_spec(task_spec) is not None and id(task_spec) not in starts
        for spec in specs
        for task_spec in spec.task_specs.values()
    )


SPECS = SpecCache()
