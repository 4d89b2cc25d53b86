"""The one XML parser configuration for diagrams and decision tables, at deploy and at run time.

No external entity or DTD is loaded, nothing is fetched from the network, and libxml2's limits on
huge documents and entity amplification stay on. libxml2 still replaces internal entities inside
attribute values whatever the options say, so a document that declares a DTD is refused outright:
BPMN and DMN files never need one, and what validation checks is then exactly what runs.
"""

from __future__ import annotations

from lxml import etree

DOCTYPE_REFUSED = "不能包含 DOCTYPE（文档类型或实体声明）：BPMN/DMN 文件不需要它，请删除文件开头的 <!DOCTYPE …>"


class DoctypeRefused(ValueError):
    pass


def hardened_parser() -> etree.XMLParser:
    # A new parser per document: lxml parser objects are not meant to be shared between threads.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


def parse(xml: str | bytes) -> etree._Element:
    """The root element; raises etree.XMLSyntaxError, or DoctypeRefused."""
    root = etree.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml, parser=hardened_parser())
    if declares_dtd(root):
        raise DoctypeRefused(DOCTYPE_REFUSED)
    return root


def declares_dtd(root: etree._Element) -> bool:
    """A DOCTYPE with an internal subset (entity declarations) or a reference to an external DTD."""
    info = root.getroottree().docinfo
    return info.internalDTD is not None or bool(info.system_url) or bool(info.public_id)
