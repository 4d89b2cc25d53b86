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
                return "postgresql+psycopg://" + url[len(prefix) :]
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


# ---- e-mail (engine/notifications/channels/email.py) ------------------------------------------

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
    return {
        "host": host,
        "port": int(port_text),
        "security": security,
        "user": os.environ.get("BPM_SMTP_USER") or None,
        "password": os.environ.get("BPM_SMTP_PASSWORD") or None,
    }


def mail_from() -> str:
    return os.environ.get("BPM_MAIL_FROM") or "流程管理系统 <bpm@localhost>"


def base_url() -> str:
    """The site's address as people reach it, for links in e-mails."""
    return (os.environ.get("BPM_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")


# ---- logging in (engine/org/login.py, engine/org/credentials.py) -------------------------------


def _positive_int(name: str, default: int) -> int:
    text = (os.environ.get(name) or str(default)).strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} 应为正整数：{text}")
    return int(text)


def token_lifetime_minutes() -> int:
    """How long an API token from POST /auth/token lives (default 60 minutes; it was 12 hours)."""
    return _positive_int("BPM_TOKEN_LIFETIME_MINUTES", 60)


def session_max_hours() -> int:
    """A page session ends at the latest this long after login (default 8 hours: a working day)."""
    return _positive_int("BPM_SESSION_MAX_HOURS", 8)


def session_idle_minutes() -> int:
    """A page session ends after this long without a request (default 120 minutes)."""
    return _positive_int("BPM_SESSION_IDLE_MINUTES", 120)


def login_throttle_settings() -> dict:
    """Failed logins allowed per account and per client address within the window, and how long a
    lock lasts once one of them is reached."""
    return {
        "account_failures": _positive_int("BPM_LOGIN_MAX_FAILURES", 5),
        "address_failures": _positive_int("BPM_LOGIN_MAX_FAILURES_PER_ADDRESS", 50),
        "window_minutes": _positive_int("BPM_LOGIN_WINDOW_MINUTES", 15),
        "lock_minutes": _positive_int("BPM_LOGIN_LOCK_MINUTES", 15),
    }


def trusted_proxies() -> int:
    """How many reverse proxies stand in front of the web app: their X-Forwarded-For/-Proto/-Host are
    believed (werkzeug ProxyFix). 0 (default): the app is reached directly and no such header is trusted."""
    text = (os.environ.get("BPM_TRUSTED_PROXIES") or "0").strip()
    if not text.isdigit():
        raise ValueError(f"BPM_TRUSTED_PROXIES 应为反向代理的层数（0、1、2…）：{text}")
    return int(text)
