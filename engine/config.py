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
