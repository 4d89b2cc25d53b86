"""Browser tests: a live `bpm serve` on a fresh database, driven by Playwright with Debian's Chromium.

One server and one browser per session; every user gets a context of their own (own cookies), logged
in through the real login form. Outside CI the tests skip when /usr/bin/chromium is missing; in CI
(CI=true) that is a failure."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from engine.config import PROJECT_ROOT
from engine.store.db import fresh_postgres_database

CHROMIUM = Path("/usr/bin/chromium")
FAILURES = Path("/tmp/e2e-failures")
PASSWORD = "demo"
PHONE = {"width": 375, "height": 812}
# expect() waits up to this long; the pages answer in well under a second, but form-js and
# bpmn-js bundles are large for a 2-core machine.
TIMEOUT_MS = 15_000
IN_CI = os.environ.get("CI") == "true"


def postgres_url() -> str | None:
    """As tests/conftest.py: DATABASE_URL when it is PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else None


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: browser test against a live server (needs /usr/bin/chromium)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item, so fixtures can tell whether the test failed.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session", autouse=True)
def _chromium():
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(
                f"CI must provide Debian's Chromium at {CHROMIUM} (.ci/run installs it: "
                "apt-get install chromium chromium-driver)"
            )
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)")


# ---- the live server ----


def _bpm() -> list[str]:
    """The installed `bpm` console script beside this Python, else the module it runs."""
    script = Path(sys.executable).with_name("bpm")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import bpmcli; bpmcli.main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"bpm serve exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/login", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)  # polling a starting process, not waiting on the page
    pytest.fail(f"bpm serve did not answer within {seconds}s:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> str:
    """Base URL of a live `bpm serve` over a fresh database with the demo organisation."""
    work = tmp_path_factory.mktemp("e2e")
    pg = postgres_url()
    db_url = fresh_postgres_database(pg, "_bpm_e2e") if pg else f"sqlite:///{work / 'bpm.db'}"
    env = {**os.environ, "DATABASE_URL": db_url, "BPM_SECRET_KEY": "e2e-secret-key", "PYTHONUNBUFFERED": "1"}
    init = subprocess.run(_bpm() + ["init", "--demo"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert init.returncode == 0, f"bpm init --demo failed:\n{init.stdout}\n{init.stderr}"

    port = _free_port()
    log = work / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            _bpm() + ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, proc, log)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class LiveApi:
    """JSON calls to the live server's /api/v1 with a bearer token per demo user."""

    def __init__(self, base: str):
        import requests

        self.base = base + "/api/v1"
        self.http = requests.Session()
        self.tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            r = self.http.post(f"{self.base}/auth/token", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self.tokens[username] = r.json()["token"]
        return self.tokens[username]

    def call(self, method: str, path: str, as_: str, **kw):
        headers = {"Authorization": f"Bearer {self.token(as_)}"}
        return self.http.request(method, self.base + path, headers=headers, timeout=30, **kw)

    def get(self, path: str, as_: str):
        r = self.call("GET", path, as_)
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, path: str, as_: str, body: dict | None = None, expect: int = 200):
        r = self.call("POST", path, as_, json=body or {})
        assert r.status_code == expect, r.text
        return r.json()

    def start(self, key: str, as_: str) -> dict:
        return self.post(f"/processes/{key}/instances", as_, {"data": {}}, expect=201)

    def open_task(self, instance_id: int, element_id: str) -> dict:
        tasks = [
            t
            for t in self.get(f"/instances/{instance_id}", "admin")["tasks"]
            if t["state"] == "open" and t["element_id"] == element_id
        ]
        assert tasks, f"no open {element_id} in case {instance_id}"
        return tasks[0]

    def complete(self, task_id: str, as_: str, data: dict) -> dict:
        return self.post(f"/tasks/{task_id}/complete", as_, {"data": data})


@pytest.fixture(scope="session")
def live_api(server) -> LiveApi:
    return LiveApi(server)


# ---- the browser ----


@pytest.fixture(scope="session")
def browser(_chromium):
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def log_in(page, username: str, password: str = PASSWORD) -> None:
    """Through the real login form, as a person would."""
    from playwright.sync_api import expect

    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".me-name")).to_have_attribute("title", username)


@pytest.fixture
def page_as(request, browser, server):
    """page_as("mr") -> a page logged in as mr (one context per user per test, reused);
    page_as("emp", phone=True) -> a 375×812 phone-sized one."""
    contexts: dict[tuple, object] = {}
    pages: list[tuple[str, object]] = []
    loads = itertools.count()
    last_load: dict[str, int] = {}  # which page loaded something last: the likeliest culprit
    refused: list[str] = []  # what the Content-Security-Policy blocked: a page the policy broke

    def make(username: str, phone: bool = False, login: bool = True):
        key = (username, phone)
        if key not in contexts:
            options = {"viewport": PHONE, "is_mobile": True, "has_touch": True} if phone else {}
            context = browser.new_context(
                base_url=server, locale="zh-CN", timezone_id="Asia/Shanghai", accept_downloads=True, **options
            )
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            name = username + ("-phone" if phone else "")
            page.on("load", lambda _page, name=name: last_load.__setitem__(name, next(loads)))
            page.on(
                "console",
                lambda message, name=name: (
                    refused.append(f"{name}: {message.text}") if "Content Security Policy" in message.text else None
                ),
            )
            if login:
                log_in(page, username)
            contexts[key] = page
            pages.append((name, page))
        return contexts[key]

    yield make

    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        FAILURES.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        pages.sort(key=lambda item: last_load.get(item[0], -1), reverse=True)
        for i, (who, page) in enumerate(pages):
            with contextlib.suppress(Exception):  # a crashed page must not hide the test's own failure
                page.screenshot(path=str(FAILURES / (f"{name}.png" if i == 0 else f"{name}-{who}.png")), full_page=True)
    for page in contexts.values():
        page.context.close()
    if refused and not (failed is not None and failed.failed):
        pytest.fail("the Content-Security-Policy blocked something on the page:\n" + "\n".join(refused))
