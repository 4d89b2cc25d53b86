"""Where things are: the database and the process library. Environment variables override."""
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Accept the libpq-style URL that PostgreSQL users paste; psycopg 3 is our driver.
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url
    instance_dir = PROJECT_ROOT / "instance"
    instance_dir.mkdir(exist_ok=True)
    return f"sqlite:///{instance_dir / 'bpm.db'}"


def library_dir() -> Path:
    return Path(os.environ.get("BPM_LIBRARY", PROJECT_ROOT))


def bpmn_dir() -> Path:
    return library_dir() / "bpmn"


def forms_dir() -> Path:
    return library_dir() / "forms"


def timezone_name() -> str:
    """The organisation's time zone: dates in forms, numbers by year and plain-text timers use it."""
    return os.environ.get("BPM_TIMEZONE", "Asia/Shanghai")


# ---- e-mail (engine/notifications.py) ---------------------------------------------------------

SMTP_SECURITY = ("none", "starttls", "ssl")


def smtp_host() -> str | None:
    """The SMTP server; unset means e-mail is off (in-app notifications still work)."""
    return (os.environ.get("BPM_SMTP_HOST") or "").strip() or None


def smtp_settings() -> dict | None:
    """How to reach the SMTP server, or None when e-mail is off. A bad value is refused by name."""
    host = smtp_host()
    if host is None:
        return None
    port_text = (os.environ.get("BPM_SMTP_PORT") or "25").strip()
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"BPM_SMTP_PORT 应为 1–65535 的端口号：{port_text}")
    security = (os.environ.get("BPM_SMTP_SECURITY") or "none").strip().lower()
    if security not in SMTP_SECURITY:
        raise ValueError(f"BPM_SMTP_SECURITY 只能是 none、starttls 或 ssl：{security}")
    return {"host": host, "port": int(port_text), "security": security,
            "user": os.environ.get("BPM_SMTP_USER") or None,
            "password": os.environ.get("BPM_SMTP_PASSWORD") or None}


def mail_from() -> str:
    return os.environ.get("BPM_MAIL_FROM") or "流程管理系统 <bpm@localhost>"


def base_url() -> str:
    """The site's address as people reach it, for links in e-mails."""
    return (os.environ.get("BPM_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
