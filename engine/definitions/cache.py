"""Parsed specs, once per version: a version's content never changes, so any process may cache it."""
from __future__ import annotations

import threading
from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.store.models import ProcessVersion


@dataclass(frozen=True)
class CompiledVersion:
    version_id: int
    process_key: str
    version: int
    spec: object
    subprocess_specs: dict
    forms: dict
    starter_roles: frozenset = frozenset()


class SpecCache:
    def __init__(self, max_entries: int = 512):
        self._entries: dict[int, CompiledVersion] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, version: ProcessVersion) -> CompiledVersion:
        compiled = self._entries.get(version.id)
        if compiled is None:
            compiled = self._compile(version)
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[version.id] = compiled
        return compiled

    @staticmethod
    def _compile(version: ProcessVersion) -> CompiledVersion:
        parser = SpiffBpmnParser()
        for dmn_xml in set((version.decisions or {}).values()):
            parser.add_dmn_xml(etree.fromstring(dmn_xml.encode("utf-8")))
        root = etree.fromstring(version.bpmn_xml.encode("utf-8"))
        parser.add_bpmn_xml(root, filename=f"{version.process_key}.bpmn")
        return CompiledVersion(version.id, version.process_key, version.version,
                               parser.get_spec(version.process_key),
                               parser.get_subprocess_specs(version.process_key), version.forms or {},
                               frozenset(_starter_roles(root, version.process_key)))


def _starter_roles(root, key: str) -> set[str]:
    from engine.definitions.validation import NS
    values = root.xpath(f"./bpmn:process[@id='{key}']/bpmn:extensionElements/spiffworkflow:properties/"
                        "spiffworkflow:property[@name='starterRoles']/@value", namespaces=NS)
    return {r.strip() for r in (values[0] if values else "").split(",") if r.strip()}


SPECS = SpecCache()
