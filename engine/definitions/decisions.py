"""DMN decision tables a diagram calls (businessRuleTask → spiffworkflow:calledDecisionId).

They live beside the diagrams as `.dmn` files and are frozen with each version that calls them,
like forms, so a running case never sees a rule change under it.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from engine.definitions import xmlparse
from engine.errors import DefinitionError

DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
)


def decision_ids(dmn_xml: str, name: str = "DMN") -> list[str]:
    """The decisions a DMN document defines; DefinitionError naming the file when it is not DMN."""
    try:
        root = xmlparse.parse(dmn_xml)
    except etree.XMLSyntaxError as exc:
        raise DefinitionError(
            [{"element_id": None, "message": f"{name}: XML 格式错误（第 {exc.lineno} 行）：{exc.msg}"}]
        ) from None
    except xmlparse.DoctypeRefused as exc:
        raise DefinitionError([{"element_id": None, "message": f"{name}: 决策表{exc}"}]) from None
    namespace = etree.QName(root).namespace
    if etree.QName(root).localname != "definitions" or namespace not in DMN_NAMESPACES:
        raise DefinitionError([{"element_id": None, "message": f"{name}: 不是 DMN 1.2/1.3 决策表文件"}])
    return [d.get("id") for d in root.iter(f"{{{namespace}}}decision")]


class DecisionLookup:
    """Decision tables given with the request first, then the `.dmn` files of the library folder."""

    def __init__(self, given: dict | None = None, folder: Path | None = None):
        self.given = {}
        for xml in (given or {}).values():
            self.given.update(dict.fromkeys(decision_ids(xml), xml))
        self.folder = folder
        self._from_folder: dict[str, str] | None = None

    def _scan(self) -> dict[str, str]:
        if self._from_folder is None:
            self._from_folder = {}
            if self.folder is not None and self.folder.is_dir():
                for path in sorted(self.folder.glob("*.dmn")):
                    xml = path.read_text(encoding="utf-8")
                    self._from_folder.update(dict.fromkeys(decision_ids(xml, path.name), xml))
        return self._from_folder

    def get(self, decision_id: str) -> str | None:
        return self.given.get(decision_id) or self._scan().get(decision_id)
