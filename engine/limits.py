"""Size limits on what people hand the system: diagrams, the code in them, and form submissions.

Each limit has a default that no diagram or form of the library comes near, and an environment
variable to change it. A value that is not a positive whole number is refused by name, so a typo
never silently removes a limit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    variable: str
    default: int
    meaning: str

    def value(self) -> int:
        text = (os.environ.get(self.variable) or "").strip()
        if not text:
            return self.default
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"{self.variable}（{self.meaning}）应为正整数：{text}")
        return int(text)


# Diagrams (engine/definitions/validation.py)
DIAGRAM_KB = Limit("BPM_MAX_DIAGRAM_KB", 2048, "流程图文件大小上限，KB")
FORM_KB = Limit("BPM_MAX_FORM_KB", 512, "单个表单定义大小上限，KB")
SCRIPT_CHARS = Limit("BPM_MAX_SCRIPT_CHARS", 20000, "脚本长度上限，字符")
EXPRESSION_CHARS = Limit("BPM_MAX_EXPRESSION_CHARS", 2000, "表达式长度上限，字符")
CODE_CHARS_TOTAL = Limit("BPM_MAX_CODE_CHARS_TOTAL", 200000, "一个流程图中脚本和表达式的总长度上限，字符")
CODE_NESTING = Limit("BPM_MAX_CODE_NESTING", 100, "脚本和表达式的嵌套层数上限")
# SpiffWorkflow parses a diagram by following each sequence flow recursively, about two Python
# frames per element: a chain much longer than this would exhaust the interpreter's stack.
CHAIN_LENGTH = Limit("BPM_MAX_CHAIN_LENGTH", 400, "从开始事件起依次相连的元素个数上限")

# Form submissions (engine/forms/schema.py)
LIST_ITEMS = Limit("BPM_FORM_MAX_LIST_ITEMS", 200, "多选（checklist/taglist）和动态列表的项数上限")
TEXTFIELD_CHARS = Limit("BPM_FORM_MAX_TEXTFIELD_CHARS", 1000, "未设 maxLength 的单行文本长度上限，字符")
TEXTAREA_CHARS = Limit("BPM_FORM_MAX_TEXTAREA_CHARS", 20000, "未设 maxLength 的多行文本长度上限，字符")

# Diagram code at run time (engine/script_runner.py, engine/runtime/step.py, engine/quarantine.py)
SCRIPT_CPU_SECONDS = Limit("BPM_SCRIPT_CPU_SECONDS", 2, "每段脚本或表达式的 CPU 时间上限，秒")
SCRIPT_WALL_SECONDS = Limit("BPM_SCRIPT_WALL_SECONDS", 4, "每段脚本或表达式的运行时间上限，秒")
SCRIPT_MEMORY_MB = Limit("BPM_SCRIPT_MEMORY_MB", 256, "脚本运行进程可另外占用的内存上限，MB")
SCRIPT_RESULT_KB = Limit("BPM_SCRIPT_RESULT_KB", 8192, "一段脚本写回的案件数据大小上限，KB")
SCRIPT_FUNCTION_CALLS = Limit("BPM_SCRIPT_FUNCTION_CALLS", 1000, "一段脚本调用 next_number 等函数的次数上限")
SCRIPT_FUNCTION_SECONDS = Limit("BPM_SCRIPT_FUNCTION_SECONDS", 10, "一段脚本所调用函数的总运行时间上限，秒")
STEP_MAX_TASKS = Limit("BPM_STEP_MAX_TASKS", 10000, "一次推进可执行的自动步骤数上限")
STEP_SECONDS = Limit("BPM_STEP_SECONDS", 10, "一次推进的自动步骤运行时间上限，秒")
QUARANTINE_HITS = Limit("BPM_SCRIPT_QUARANTINE_HITS", 2, "同一段代码超出资源上限几次后暂停执行")
