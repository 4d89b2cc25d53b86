"""The demo organisation (docs/demo_org.md): fixed usernames, password `demo`."""

from __future__ import annotations

import os

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.org.service import create_user
from engine.store.models import Department, Role, User

DEPARTMENTS = [
    ("leadership", "公司领导"),
    ("qg", "企管部"),
    ("office", "办公室"),
    ("tech", "技术部"),
    ("ops", "运维部"),
    ("impl", "实施部"),
    ("hr", "人力资源部"),
    ("fin", "财务部"),
    ("mkt", "市场营销部"),
    ("dev", "软件产品研发部"),
]

# (code, name, scope). `department` roles resolve within one department.
ROLES = [
    ("gm", "总经理", "global"),
    ("vp", "分管副总", "global"),
    ("mgmt_rep", "管理者代表", "global"),
    ("dept_head", "部门负责人", "department"),
    ("qg", "企管部", "global"),
    ("doc_admin", "文件管理员", "global"),
    ("it_head", "IT负责人", "global"),
    ("hr", "人力资源部", "global"),
    ("hr_trainer", "培训管理员", "global"),
    ("finance", "财务", "global"),
    ("sales", "销售经理", "global"),
    ("project_manager", "项目经理", "global"),
    ("service_desk", "服务台", "global"),
    ("auditor", "内审员", "global"),
    ("admin", "系统管理员", "global"),
    ("process_owner", "流程所有者", "global"),
    ("pm_incident", "事件管理流程经理", "global"),
    ("pm_problem", "问题管理流程经理", "global"),
    ("pm_change", "变更管理流程经理", "global"),
    ("pm_release", "发布管理流程经理", "global"),
    ("pm_config", "配置管理流程经理", "global"),
    ("pm_slm", "服务级别管理流程经理", "global"),
    ("pm_continuity", "可持续性管理流程经理", "global"),
    ("pm_availability", "可用性管理流程经理", "global"),
    ("pm_capacity", "容量管理流程经理", "global"),
    ("pm_finance", "财务管理流程经理", "global"),
    ("pm_report", "服务报告流程经理", "global"),
    ("pm_brm", "业务关系管理流程经理", "global"),
    ("pm_supplier", "供应商管理流程经理", "global"),
]

USERS = [
    ("gm", "总经理", "leadership", ("gm",)),
    ("vp", "分管副总", "leadership", ("vp",)),
    ("mr", "管理者代表", "leadership", ("mgmt_rep",)),
    ("qg_head", "企管部负责人", "qg", ("dept_head", "qg", "doc_admin")),
    ("qg_staff", "企管部专员", "qg", ("qg", "doc_admin")),
    ("office_head", "办公室负责人", "office", ("dept_head", "pm_supplier", "pm_brm", "pm_finance")),
    ("tech_head", "技术部负责人", "tech", ("dept_head", "it_head")),
    (
        "tech_eng",
        "技术部工程师",
        "tech",
        ("pm_incident", "pm_problem", "pm_change", "pm_release", "pm_config", "auditor"),
    ),
    (
        "tech_eng2",
        "技术部工程师二",
        "tech",
        ("pm_slm", "pm_continuity", "pm_availability", "pm_capacity", "pm_report", "service_desk"),
    ),
    ("ops_head", "运维部负责人", "ops", ("dept_head",)),
    ("ops_eng", "运维工程师", "ops", ("service_desk",)),
    ("impl_head", "实施部负责人", "impl", ("dept_head",)),
    ("hr_head", "人力资源部部长", "hr", ("dept_head", "hr")),
    ("hr_trainer", "培训管理员", "hr", ("hr", "hr_trainer", "auditor")),
    ("fin_head", "财务部负责人", "fin", ("dept_head", "finance")),
    ("mkt_head", "市场营销部负责人", "mkt", ("dept_head",)),
    ("sales", "销售经理", "mkt", ("sales",)),
    ("dev_head", "软件产品研发部经理", "dev", ("dept_head",)),
    ("pm", "项目经理", "dev", ("project_manager",)),
    ("emp", "普通员工", "ops", ()),
    ("admin", "系统管理员", "qg", ("admin",)),
]


def ensure_roles(session: Session) -> None:
    """The role catalogue is part of the schema's reference data, demo or not."""
    existing = set(session.scalars(select(Role.code)))
    for code, name, scope in ROLES:
        if code not in existing:
            session.add(Role(code=code, name=name, scope=scope))
    session.flush()


def load_demo(session: Session) -> bool:
    """Load the demo organisation once; False if it is already there. Refused in production."""
    if os.environ.get("BPM_ENV") == "production":
        raise RuntimeError("演示数据不能加载到生产环境 (BPM_ENV=production)")
    ensure_roles(session)
    if session.scalar(select(User).where(User.username == "gm")) is not None:
        return False
    existing = set(session.scalars(select(Department.code)))
    for code, name in DEPARTMENTS:
        if code not in existing:
            session.add(Department(code=code, name=name))
    session.flush()
    for username, name, dept, roles in USERS:
        create_user(
            session,
            username=username,
            display_name=name,
            password="demo",
            department=dept,
            roles=roles,
            email=f"{username}@demo.example",
        )
    return True
