"""Page translations: Chinese source strings (the msgids) with an English catalog in webapp/translations.

The language is the session's `lang` ("zh" by default, or "en"). Engine messages stay Chinese.
"""
from __future__ import annotations

from flask import Flask, session as cookie
from flask_babel import Babel, gettext

LANGUAGES = {"zh": "zh_Hans_CN", "en": "en"}
DEFAULT_LANG = "zh"


def N_(text: str) -> str:
    """Marks a string for extraction (pybabel -k N_) that is translated later, e.g. in JavaScript."""
    return text


# Strings the pages' JavaScript shows, rendered into each page as `window.I18N` in the current language.
JS_STRINGS = [
    N_("提交"), N_("同意"), N_("拒绝"), N_("认领"), N_("取消认领"), N_("转办"), N_("委派"), N_("加签"),
    N_("退回"), N_("撤回"), N_("抄送"), N_("催办"), N_("确定"), N_("取消"), N_("意见"), N_("选择人员"),
    N_("输入姓名、账号或部门搜索"), N_("加签位置"), N_("在我之前（先由对方处理）"), N_("在我之后（我处理后再由对方处理）"),
    N_("退回到"), N_("没有可退回的步骤"), N_("请选择人员"), N_("请选择要退回的步骤"), N_("请先勾选任务"),
    N_("已提交"), N_("已认领"), N_("已取消认领"), N_("已转办"), N_("已委派"), N_("已加签"), N_("已退回"),
    N_("已撤回"), N_("已抄送"), N_("已催办"), N_("已上传"), N_("操作失败"), N_("网络错误，请重试"),
    N_("表单有误，请检查标红的字段"), N_("成功"), N_("失败"), N_("正在处理…"), N_("批量同意完成：成功 {ok} 个，失败 {failed} 个"),
    N_("发起"), N_("已发起"), N_("流程图加载失败"), N_("表单加载失败"), N_("没有匹配的流程"), N_("无需填写表单"),
    N_("没有找到人员"), N_("确定撤回该案件吗？"), N_("撤回原因"), N_("催办说明"), N_("抄送给"),
    N_("上传中…"), N_("上传"), N_("请选择文件"), N_("文件过大"), N_("会签（全部同意）"), N_("或签（一人同意即可）"),
    N_("依次审批"), N_("由 {name} 加签"), N_("在其之前"), N_("在其之后"), N_("待处理"),
]


def select_locale() -> str:
    return LANGUAGES.get(cookie.get("lang"), LANGUAGES[DEFAULT_LANG])


def current_lang() -> str:
    lang = cookie.get("lang")
    return lang if lang in LANGUAGES else DEFAULT_LANG


def js_catalog() -> dict[str, str]:
    """The JavaScript strings in the current language; Chinese needs none (the source strings are Chinese)."""
    if current_lang() == DEFAULT_LANG:
        return {}
    return {text: gettext(text) for text in JS_STRINGS}


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_locale=LANGUAGES[DEFAULT_LANG])
