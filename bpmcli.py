"""The `bpm` command line: set up, deploy, validate, serve."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.config import bpmn_dir
from engine.errors import DefinitionError


def _db():
    from engine.store.db import Database

    return Database()


def _print_errors(errors: list[dict]) -> None:
    for e in errors:
        where = " ".join(filter(None, [e.get("file"), e.get("element_id") and f"[{e['element_id']}]"]))
        click.echo(f"  {where + ': ' if where else ''}{e['message']}", err=True)


@click.group()
def main():
    """流程管理系统命令行 (BPM for ISO 20000 / ITSS)."""


@main.command()
@click.option("--demo", is_flag=True, help="Load the demo organisation (password: demo).")
@click.option(
    "--library",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of .bpmn diagrams (default: bpmn/).",
)
def init(demo: bool, library: Path | None):
    """Create or upgrade the schema and deploy every changed diagram."""
    from engine.definitions.deploy import deploy_folder
    from engine.org.demo import ensure_roles, load_demo
    from engine.store.schema import upgrade

    db = _db()
    upgrade(db)
    with db.session(write=True) as session:
        ensure_roles(session)
        if demo and load_demo(session):
            click.echo("已加载演示组织（密码均为 demo）")
    try:
        with db.session(write=True) as session:
            results = deploy_folder(session, library or bpmn_dir())
    except DefinitionError as exc:
        click.echo("部署失败，没有任何流程被更改：", err=True)
        _print_errors(exc.errors)
        sys.exit(1)
    for r in results:
        state = f"新版本 v{r.version.version}" if r.created else f"未变化 v{r.version.version}"
        click.echo(f"{r.version.process_key:<28} {state}  {r.version.name}")
    click.echo(f"数据库：{db.url}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def deploy(file: Path):
    """Deploy one diagram (its forms are read from forms/ beside bpmn/)."""
    from engine.definitions.deploy import deploy as deploy_one

    db = _db()
    try:
        with db.session(write=True) as session:
            result = deploy_one(
                session,
                file.read_bytes(),
                folder=file.resolve().parent.parent / "forms",
                note=f"bpm deploy {file.name}",
            )
    except DefinitionError as exc:
        click.echo(f"{file}: 部署失败", err=True)
        _print_errors(exc.errors)
        sys.exit(1)
    v = result.version
    click.echo(f"{v.process_key} v{v.version}" + ("" if result.created else "（内容未变化，未创建新版本）"))


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def validate(path: Path):
    """Validate a diagram or a folder of diagrams; exit 1 with element-level messages."""
    from engine.definitions.deploy import check
    from engine.definitions.validation import check_links
    from engine.org.demo import ROLES

    files = sorted(path.glob("*.bpmn")) if path.is_dir() else [path]
    if not files:
        click.echo(f"{path}: 没有 .bpmn 文件", err=True)
        sys.exit(1)
    failed, diagrams = 0, []
    for file in files:
        forms = file.resolve().parent.parent / "forms"
        try:
            # No database needed: lanes are checked against the role catalogue.
            diagram, _ = check(file.read_bytes(), known_roles={code for code, _, _ in ROLES}, folder=forms)
            diagrams.append(diagram)
            click.echo(f"{file}: 通过")
        except DefinitionError as exc:
            failed += 1
            click.echo(f"{file}: 未通过", err=True)
            _print_errors(exc.errors)
    if path.is_dir() and not failed:
        links = check_links(diagrams)
        if links:
            failed += 1
            click.echo(f"{path}: 流程之间的发起关系有误", err=True)
            _print_errors(links)
    sys.exit(1 if failed else 0)


@main.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def export_command(folder: Path):
    """Write the live version of every procedure as library files (FOLDER/bpmn, FOLDER/forms)."""
    from engine.definitions.export import export_library

    try:
        with _db().session() as session:
            result = export_library(session, folder)
    except DefinitionError as exc:
        click.echo("导出失败，没有写入任何文件：", err=True)
        _print_errors(exc.errors)
        sys.exit(1)
    click.echo(f"已导出 {result.procedures} 个流程、{result.forms} 个表单、{result.decisions} 个决策表到 {folder}")
    if result.not_live:
        # Never deleted: the folder may be a git working tree; the user decides.
        click.echo(f"以下 {len(result.not_live)} 个文件不在线上版本中（未删除）：")
        for name in result.not_live:
            click.echo(f"  {name}")


@main.command()
def users():
    """List users with their department and roles."""
    from sqlalchemy import select

    from engine.store.models import User

    with _db().session() as session:
        for u in session.scalars(select(User).order_by(User.id)):
            dept = u.department.name if u.department else "-"
            click.echo(f"{u.username:<12} {u.display_name:<12} {dept:<10} {','.join(sorted(u.role_codes))}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--no-scheduler", is_flag=True, help="不在本进程触发定时器（另行运行 bpm scheduler 时）")
def serve(host: str, port: int, threads: int, no_scheduler: bool):
    """Serve the web app and API (waitress, a production WSGI server), with the timer ticker."""
    from waitress import serve as waitress_serve

    from engine.flows import scheduler
    from webapp import create_app

    app = create_app()
    _warm_script_worker()
    if not no_scheduler:
        scheduler.start_background(app.extensions["bpm_db"])
    click.echo(f"流程管理系统：http://{host}:{port}/  (Ctrl+C 停止)")
    waitress_serve(app, host=host, port=port, threads=threads, ident="bpm")


def _warm_script_worker() -> None:
    """Start a worker for diagram code now, so the first script does not wait for one."""
    import threading

    from engine import script_runner

    threading.Thread(target=script_runner.default_pool().warm, name="script-worker", daemon=True).start()


@main.command("scheduler")
@click.option("--interval", default=1.0, show_default=True, type=float, help="检查定时器的间隔（秒）")
@click.option("--mail-interval", default=10.0, show_default=True, type=float, help="发送邮件的间隔（秒）")
def scheduler_command(interval: float, mail_interval: float):
    """Only fire timers and send mail (run one or more beside `bpm serve --no-scheduler`)."""
    import logging

    from engine.flows import scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per tick
    click.echo(f"定时器触发进程已启动，每 {interval:g} 秒检查一次定时器，每 {mail_interval:g} 秒发送邮件 (Ctrl+C 停止)")
    _warm_script_worker()
    scheduler.run_forever(_db(), interval, mail_interval)


@main.command()
@click.option("--retry-failed", is_flag=True, help="把发送失败的邮件重新放回队列（下次发送时重试）")
@click.option("--all", "show_all", is_flag=True, help="也列出已发送的邮件")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
def outbox(retry_failed: bool, show_all: bool, limit: int):
    """List the e-mail outbox: mails waiting (pending) and mails that did not go (failed)."""
    from engine import clock
    from engine.notifications.channels import email as email_channel
    from engine.store.models import MailStatus

    db = _db()
    if retry_failed:
        with db.session(write=True) as session:
            count = email_channel.retry_failed(session)
        click.echo(f"已将 {count} 封发送失败的邮件放回队列")
        return
    with db.session() as session:
        counts = email_channel.outbox_counts(session)
        if show_all:
            rows = email_channel.outbox(session, limit=limit)
        else:  # what operations acts on: the failed first, then what waits
            rows = email_channel.outbox(session, status=MailStatus.FAILED, limit=limit) + email_channel.outbox(
                session, status=MailStatus.PENDING, limit=limit
            )
    click.echo(f"待发送 {counts['pending']}，发送失败 {counts['failed']}，已发送 {counts['sent']}")
    for r in rows:
        when = r.sent_at if r.status == MailStatus.SENT else r.next_attempt_at
        click.echo(
            f"#{r.id:<6} {r.status:<8} 尝试 {r.attempts:<3} {clock.local(when):%Y-%m-%d %H:%M}  "
            f"{r.to_address}  {r.subject}"
        )
        if r.last_error and r.status != MailStatus.SENT:
            click.echo(f"        错误：{r.last_error}")
    if counts["failed"] and not show_all:
        click.echo("用 bpm outbox --retry-failed 把发送失败的邮件放回队列")


@main.command("quarantine")
@click.option(
    "--release", "release_hash", default=None, metavar="HASH", help="解除暂停（代码的 SHA-256，可只写前 12 位）"
)
def quarantine_command(release_hash: str | None):
    """Diagram code that ran into its limits: hits, and whether it is paused; release paused code."""
    from engine import clock, quarantine

    db = _db()
    with db.session(write=release_hash is not None) as session:
        rows = quarantine.listing(session)
        if release_hash:
            matches = [r for r in rows if r.code_hash.startswith(release_hash.lower())]
            if len(matches) != 1:
                raise click.ClickException(f"{'没有' if not matches else '有多条'}以 {release_hash} 开头的记录")
            quarantine.release(session, matches[0].code_hash, user_id=None)
            click.echo(f"已解除暂停：{matches[0].process_key} {matches[0].element_id} {matches[0].code_hash[:12]}")
            return
        if not rows:
            click.echo("没有超出资源上限的代码")
        for r in rows:
            state = "已暂停" if r.paused_at else "计数中"
            click.echo(
                f"{r.code_hash[:12]}  {state}  超限 {r.hits} 次  {r.process_key or '-'}/{r.element_id or '-'}  "
                f"最近 {clock.local(r.last_hit_at):%Y-%m-%d %H:%M}：{r.last_error}"
            )


if __name__ == "__main__":
    main()
