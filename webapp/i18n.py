"""Page translations: Chinese source strings (the msgids) with an English catalog in webapp/translations.

The language is the session's `lang` ("zh" by default, or "en"). Engine messages stay Chinese.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from flask import Flask
from flask import session as cookie
from flask_babel import Babel, gettext

from engine.config import PROJECT_ROOT
from engine.definitions import vocabulary

LANGUAGES = {"zh": "zh_Hans_CN", "en": "en"}
DEFAULT_LANG = "zh"
BABEL_CFG = PROJECT_ROOT / "babel.cfg"  # what pybabel extracts from where, read here for the JavaScript


def N_(text: str) -> str:
    """Marks a string for extraction (pybabel -k N_) that is translated later."""
    return text


@cache
def js_strings() -> frozenset[str]:
    """The msgids of the pages' JavaScript: what Babel's JavaScript extractor finds in the files babel.cfg
    maps to it (the `t("…")` calls), once per process, so the catalog served is always the one the code
    uses. Also the vocabulary's labels, which the modeler gets from GET /api/v1/vocabulary and translates
    as it shows them."""
    with BABEL_CFG.open() as config:
        method_map, options_map = parse_mapping_cfg(config, filename=str(BABEL_CFG))
    scripts = [(pattern, method) for pattern, method in method_map if method == "javascript"]
    found = {
        message
        for _, _, message, _, _ in extract_from_dir(
            PROJECT_ROOT, scripts, options_map, directory_filter=_reaching(scripts)
        )
    }
    return frozenset({*found, *vocabulary.labels()})


def _reaching(patterns: list[tuple[str, str]]):
    """Walk only the folders the patterns can match in (the project root also holds node_modules)."""
    tops = [PROJECT_ROOT / pattern.split("*", 1)[0].rsplit("/", 1)[0] for pattern, _ in patterns]

    def reaches(path: str) -> bool:
        folder = Path(path)
        return any(folder == top or top in folder.parents or folder in top.parents for top in tops)

    return reaches


def select_locale() -> str:
    return LANGUAGES.get(cookie.get("lang"), LANGUAGES[DEFAULT_LANG])


def current_lang() -> str:
    lang = cookie.get("lang")
    return lang if lang in LANGUAGES else DEFAULT_LANG


def js_catalog() -> dict[str, str]:
    """The JavaScript strings in the current language; Chinese needs none (the source strings are Chinese)."""
    if current_lang() == DEFAULT_LANG:
        return {}
    return {text: gettext(text) for text in js_strings()}


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_locale=LANGUAGES[DEFAULT_LANG])
    js_strings()  # extracted at start-up: the first page need not wait, and a broken babel.cfg stops the start
