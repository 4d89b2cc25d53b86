"""The pages' JavaScript strings: extracted from the JavaScript by Babel (webapp.i18n.js_strings), each
with an English translation, served in the page's language."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from engine.definitions import vocabulary
from webapp.i18n import js_strings

PO = Path(__file__).resolve().parents[1] / "webapp" / "translations" / "en" / "LC_MESSAGES" / "messages.po"


@pytest.fixture(scope="module")
def english():
    with PO.open("rb") as source:
        return read_po(source, locale="en")


def test_every_string_the_javascript_shows_has_an_english_translation(english):
    missing = [text for text in sorted(js_strings()) if not (english.get(text) and english.get(text).string)]
    assert not missing


def test_the_strings_are_those_of_the_javascript_and_the_vocabulary():
    strings = js_strings()
    assert {
        "批量同意完成：成功 {ok} 个，失败 {failed} 个",
        "放弃草稿",
        "会签（全部同意）",
    } <= strings  # app, modeler, task
    assert set(vocabulary.KIND_LABELS.values()) <= strings
    assert "没有匹配的流程" not in strings  # only a template shows it


def test_the_catalog_is_served_in_the_pages_language(app):
    from webapp.i18n import js_catalog

    with app.test_request_context():
        from flask import session

        assert js_catalog() == {}  # Chinese: the msgids are the text
        session["lang"] = "en"
        catalog = js_catalog()
    assert catalog["放弃草稿"] and catalog["放弃草稿"] != "放弃草稿"
    assert set(catalog) == js_strings()
