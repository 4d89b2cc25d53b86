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
    # 流程清单 pages (definition.js) and the modeler (modeler.js)
    N_("以版本 {v} 的内容新建草稿？草稿须经变更审批（或管理员直接部署）后才会作为新版本生效。"), N_("新流程的标识（小写字母开头，字母、数字、下划线），例如 asset_handover"),
    N_("流程标识格式不正确：{key}"), N_("流程已存在：{key}"), N_("请先选择案件"), N_("把选中的 {n} 个案件迁移到 V{v}？不能安全迁移的案件保持不变。"),
    N_("可以迁移"), N_("已迁移到 V{v}"), N_("试运行：{ok} 个可以迁移，{bad} 个不能"), N_("已迁移 {ok} 个案件，{bad} 个未迁移"), N_("流程"),
    N_("池"), N_("泳道"), N_("用户任务"), N_("脚本任务"), N_("服务任务"), N_("业务规则任务"), N_("发送任务"), N_("接收任务"), N_("人工任务"),
    N_("任务"), N_("子流程"), N_("调用活动"), N_("排他网关"), N_("包容网关"), N_("并行网关"), N_("事件网关"), N_("开始事件"), N_("结束事件"),
    N_("中间捕获事件"), N_("中间抛出事件"), N_("边界事件"), N_("顺序流"), N_("消息流"), N_("注释"), N_("组"), N_("数据对象"), N_("数据存储"),
    N_("编辑中"), N_("变更审批中"), N_("已生效"), N_("已放弃"), N_("单人办理"), N_("时长"), N_("日期时间"), N_("周期"),
    N_("ISO 8601 时长，如 PT72H、P3D；或返回它的表达式"),
    N_('如 2027-01-05T09:00:00+08:00；或表达式，如 planned_end + "T18:00:00+08:00"'),
    N_("如 R/2027-01-01T09:00:00+08:00/P3M（每季度）"), N_("当前值"), N_("标识（ID）"), N_("名称"), N_("说明"), N_("特殊"),
    N_("部门角色"), N_("角色"), N_("没有流程"), N_("流程名称"), N_("流程所有者"), N_("（未设置）"), N_("该角色的人员可以修改本流程"), N_("类别"),
    N_("未知角色"), N_("流程标识"), N_("流程标识不能修改"), N_("发起角色"), N_("可手工发起本流程的角色（按住 Ctrl 多选）；不选表示所有人都可发起"),
    N_("（自定义，见下方表达式）"), N_("发起人（initiator）"), N_("表单中选定的人员（user@字段）"), N_("表单字段，如 business_dept"),
    N_("办理人（角色）"), N_("@字段"), N_("dept_head@字段：该字段所选部门的负责人；user@字段：该字段中选定的人员"), N_("排除发起人本人（!initiator）"),
    N_("泳道名称（角色表达式）"), N_("也可直接填写，如 gm、dept_head@business_dept、user@field!initiator"), N_("发起人"), N_("选定人员"),
    N_("，不含发起人"), N_("不是 ISO 8601 时长（如 P3D、PT72H）"), N_("如 P3D"), N_("数量"), N_("单位"), N_("天"), N_("小时"),
    N_("快速设置"), N_("通知部门负责人"), N_("通知发起人"), N_("转给部门负责人"), N_("通知"), N_("转给"), N_("无"), N_("超时通知"), N_("超时转办"),
    N_("新建表单"), N_("表单标识"), N_("小写字母开头，只含小写字母、数字和下划线"), N_("表单标识只能包含小写字母、数字和下划线，并以字母开头"), N_("表单已存在：{key}"),
    N_("（未选择）"), N_("新建表单…"), N_("编辑表单"), N_("表单"), N_("审批方式"),
    N_("会签、或签、依次审批：泳道的每位候选人各有一个任务；表单需要 decision 字段"), N_("时限"), N_("办理时限"),
    N_("ISO 8601 时长，如 P3D（3 天）、PT72H（72 小时）"), N_("到期前提醒"), N_("到期前多久提醒办理人，如 P1D"), N_("超时处理"), N_("超时处理（表达式）"),
    N_("notify:角色表达式 或 move:角色表达式"), N_("条件"), N_("默认路径：其他条件都不满足时走这条，不需要条件"),
    N_('Python 表达式，使用案件的表单字段，如 decision == "reject"'), N_("默认路径"), N_("定时"), N_("类型"), N_("值"),
    N_("中断任务（到时取消所附着的任务）"), N_("脚本"), N_('受限的 Python：无 import、无下划线；可用 today()、now()、next_number("计数器")'),
    N_("决策表"), N_("流程库 .dmn 文件中的决策 id"), N_("已选择 {n} 个元素"), N_("校验失败"), N_("流程图无法导出"), N_("校验通过"),
    N_("流程图有错误，修正后才能保存"), N_("草稿"), N_("最后保存：{who}"), N_("草稿已提交变更审批（案件 #{id}），审批中不能修改"),
    N_("变更申请（案件 #{id}）已退回修改：保存草稿后，在案件的待办中重新提交"), N_("草稿已生效（版本 v{v}），不能修改"), N_("草稿已放弃，不能修改"), N_("查看案件"),
    N_("流程图有错误，请先修正（见右侧校验列表）"), N_("草稿已保存"), N_("保存失败"), N_("已提交变更申请，请填写并提交流程新增/变更审批表"), N_("直接部署"),
    N_("草稿将立即成为新的线上版本，不经过流程新增/变更审批；版本记录中会注明。"), N_("部署说明"), N_("草稿未能保存，未部署"), N_("已部署为版本 v{v}"), N_("放弃草稿"),
    N_("放弃后草稿不能恢复，线上版本不受影响。确定放弃吗？"), N_("草稿已放弃"), N_("新表单"), N_("草稿不属于该流程"),
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
