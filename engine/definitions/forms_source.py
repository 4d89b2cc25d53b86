"""Reading form-js files from the library folder."""

from __future__ import annotations

import json
from pathlib import Path

from engine.errors import DefinitionError


def read_form_file(path: Path) -> dict:
    try:
        form = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            [{"element_id": None, "message": f"表单文件 {path.name} 不是有效的 JSON（第 {exc.lineno} 行）：{exc.msg}"}]
        ) from None
    return check_form(form, path.name)


def check_form(form, name: str) -> dict:
    if not isinstance(form, dict) or not isinstance(form.get("components"), list):
        raise DefinitionError([{"element_id": None, "message": f"表单 {name} 不是 form-js 表单：缺少 components 列表"}])
    return form


class FormLookup:
    """Forms given with the request first, then the library's `forms/` folder."""

    def __init__(self, given: dict | None = None, folder: Path | None = None):
        self.given = given or {}
        self.folder = folder
        self._read: dict[str, dict] = {}

    def exists(self, form_key: str) -> bool:
        return self.get(form_key) is not None

    def get(self, form_key: str) -> dict | None:
        if form_key in self.given:
            return check_form(self.given[form_key], form_key)
        if form_key not in self._read and self.folder is not None:
            path = self.folder / f"{form_key}.form"
            if path.is_file():
                self._read[form_key] = read_form_file(path)
        return self._read.get(form_key)
