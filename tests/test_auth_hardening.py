"""Logging in, out and staying safe (issue 13, items 7–9): failed logins throttled per account and per
address in the database, unknown users answered in the same time, logout that ends the token or the page
session for every copy of it, one's own tokens listed and revoked, and the security headers.

A database of this module's own: the lock counts must not leak into other modules' logins."""

from __future__ import annotations

import re
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from engine.store.models import ApiToken, LoginThrottle

TOKEN = "/api/v1/auth/token"


@pytest.fixture(scope="module")
def adb(own_database):
    return own_database("auth")


@pytest.fixture
def make_app(adb):
    """A web process on this module's database (several of them share one database, as in production)."""
    from webapp import create_app

    def make(**config):
        return create_app({"TESTING": True, "BPM_DATABASE": adb, "SECRET_KEY": "test", **config})

    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture(autouse=True)
def forget_failures(adb):
    yield
    with adb.session(write=True) as s:
        s.query(LoginThrottle).delete()


def token_call(client, username, password, address="10.0.0.1"):
    return client.post(TOKEN, json={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address})


def form_csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def page_login(client, username, password="demo", address="10.0.0.1"):
    token = form_csrf(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf": token},
        environ_base={"REMOTE_ADDR": address},
    )


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# ---- item 7: throttling ----


def test_wrong_passwords_lock_the_account_with_429_saying_when_to_try_again(app):
    client = app.test_client()
    for _ in range(5):
        assert token_call(client, "emp", "wrong").status_code == 401
    locked = token_call(client, "emp", "demo")  # the right password, too late
    assert locked.status_code == 429
    wait = int(locked.headers["Retry-After"])
    assert 14 * 60 < wait <= 15 * 60
    assert "登录失败次数过多" in locked.json["message"] and re.search(r"请于 \d\d:\d\d 后", locked.json["message"])
    # The lock is the account's: another address is refused as well, another account is not.
    assert token_call(client, "emp", "demo", address="10.9.9.9").status_code == 429
    assert token_call(client, "mr", "demo").status_code == 200


def test_the_login_page_shows_the_lock(app):
    browser = app.test_client()
    for _ in range(5):
        assert page_login(browser, "mr", "nope").status_code == 401
    page = page_login(browser, "mr")
    assert page.status_code == 429 and page.headers["Retry-After"]
    assert "登录失败次数过多" in page.text and 'role="alert"' in page.text
    assert browser.get("/").status_code == 302  # not logged in


def test_a_successful_login_resets_the_account_count(app):
    client = app.test_client()
    for _ in range(4):
        assert token_call(client, "gm", "wrong").status_code == 401
    assert token_call(client, "gm", "demo").status_code == 200
    for _ in range(4):
        assert token_call(client, "gm", "wrong").status_code == 401
    assert token_call(client, "gm", "demo").status_code == 200


def test_one_address_guessing_many_accounts_is_locked(app, monkeypatch):
    monkeypatch.setenv("BPM_LOGIN_MAX_FAILURES_PER_ADDRESS", "8")
    client = app.test_client()
    for n in range(8):  # a different account each time: no account reaches its own limit
        assert token_call(client, f"guess{n}", "x", address="10.6.6.6").status_code == 401
    assert token_call(client, "emp", "demo", address="10.6.6.6").status_code == 429
    assert "网络地址" in token_call(client, "emp", "demo", address="10.6.6.6").json["message"]
    assert token_call(client, "emp", "demo", address="10.0.0.2").status_code == 200


def test_unknown_users_are_locked_like_real_ones(app):
    client = app.test_client()
    for _ in range(5):
        assert token_call(client, "nobody_here", "x").status_code == 401
    assert token_call(client, "nobody_here", "x").status_code == 429


def test_the_count_is_shared_by_every_web_process_and_the_lock_ends(make_app, adb):
    first, second = make_app().test_client(), make_app().test_client()
    for n in range(5):
        assert token_call(first if n % 2 else second, "qg_staff", "wrong").status_code == 401
    assert token_call(first, "qg_staff", "demo").status_code == 429
    assert token_call(second, "qg_staff", "demo").status_code == 429
    with adb.session(write=True) as s:  # the lock's time has passed
        s.execute(update(LoginThrottle).values(locked_until=datetime.now(UTC) - timedelta(seconds=1)))
    assert token_call(second, "qg_staff", "demo").status_code == 200


def test_guesses_sent_all_at_once_are_counted_one_by_one(app):
    """12 wrong passwords for one account at the same moment (threads, as several web workers would take
    them): exactly the limit of them is checked, the rest are refused without looking at the password."""
    start = threading.Barrier(12)

    def guess(_n):
        client = app.test_client()
        start.wait()
        return token_call(client, "ops_eng", "wrong").status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = sorted(pool.map(guess, range(12)))
    assert answers == [401] * 5 + [429] * 7


def test_unknown_users_are_answered_in_the_same_time_as_real_ones(app, monkeypatch):
    monkeypatch.setenv("BPM_LOGIN_MAX_FAILURES", "1000")
    monkeypatch.setenv("BPM_LOGIN_MAX_FAILURES_PER_ADDRESS", "1000")
    client = app.test_client()

    def median(username: str) -> float:
        times = []
        for _ in range(9):
            start = time.perf_counter()
            assert token_call(client, username, "wrong").status_code == 401
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    median("emp"), median("nosuchuser")  # warm up
    real, unknown = median("emp"), median("nosuchuser")
    assert 0.6 < unknown / real < 1.6, (real, unknown)


# ---- item 8: logout and tokens ----


def test_api_logout_revokes_the_token_it_is_called_with(app):
    client = app.test_client()
    token = token_call(client, "emp", "demo").json["token"]
    other = token_call(client, "emp", "demo").json["token"]
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    refused = client.get("/api/v1/tasks", headers=bearer(token))
    assert refused.status_code == 401 and "撤销" in refused.json["message"]
    assert client.get("/api/v1/tasks", headers=bearer(other)).status_code == 200  # only that one


def test_a_cookie_captured_before_logout_stops_working(app):
    browser = app.test_client()
    assert page_login(browser, "emp").status_code == 302
    home = browser.get("/")
    captured = app.test_client()
    captured.set_cookie("session", browser.get_cookie("session").value)
    assert captured.get("/").status_code == 200 and captured.get("/api/v1/tasks").status_code == 200

    assert browser.post("/logout", data={"csrf": form_csrf(home.text)}).status_code == 302
    assert captured.get("/").status_code == 302  # to the login page
    assert captured.get("/api/v1/tasks").status_code == 401


def test_the_pages_api_logout_ends_the_page_session(app):
    browser = app.test_client()
    page_login(browser, "emp")
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', browser.get("/").text).group(1)
    captured = app.test_client()
    captured.set_cookie("session", browser.get_cookie("session").value)
    assert browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert captured.get("/api/v1/tasks").status_code == 401


def test_i_list_and_revoke_my_own_tokens_and_sessions(app, adb):
    client = app.test_client()
    first = token_call(client, "emp", "demo").json
    second = token_call(client, "emp", "demo").json
    browser = app.test_client()
    page_login(browser, "emp")
    mr = token_call(client, "mr", "demo").json

    listed = client.get("/api/v1/auth/tokens", headers=bearer(first["token"]))
    assert listed.status_code == 200
    mine = {t["id"]: t for t in listed.json}
    assert {first["id"], second["id"]} <= set(mine) and mr["id"] not in mine
    assert mine[first["id"]]["current"] and not mine[second["id"]]["current"]
    assert {t["kind"] for t in listed.json} == {"api", "page"}
    assert "token" not in mine[first["id"]] and mine[first["id"]]["client_address"] == "10.0.0.1"

    assert client.delete(f"/api/v1/auth/tokens/{mr['id']}", headers=bearer(first["token"])).status_code == 404
    assert client.get("/api/v1/tasks", headers=bearer(mr["token"])).status_code == 200
    assert client.delete(f"/api/v1/auth/tokens/{second['id']}", headers=bearer(first["token"])).status_code == 204
    assert client.get("/api/v1/tasks", headers=bearer(second["token"])).status_code == 401
    page_session = next(t["id"] for t in listed.json if t["kind"] == "page")
    assert client.delete(f"/api/v1/auth/tokens/{page_session}", headers=bearer(first["token"])).status_code == 204
    assert browser.get("/").status_code == 302  # that browser is logged out
    remaining = {t["id"] for t in client.get("/api/v1/auth/tokens", headers=bearer(first["token"])).json}
    assert second["id"] not in remaining and page_session not in remaining and first["id"] in remaining


def test_tokens_live_an_hour_by_default_and_as_configured(app, adb, monkeypatch):
    client = app.test_client()
    issued = token_call(client, "emp", "demo").json
    assert issued["expires_in"] == 3600
    monkeypatch.setenv("BPM_TOKEN_LIFETIME_MINUTES", "5")
    assert token_call(client, "emp", "demo").json["expires_in"] == 300
    with adb.session(write=True) as s:
        s.execute(
            update(ApiToken)
            .where(ApiToken.id == issued["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert client.get("/api/v1/tasks", headers=bearer(issued["token"])).status_code == 401


def test_a_page_session_is_no_bearer_token(app, adb):
    browser = app.test_client()
    page_login(browser, "emp")
    with browser.session_transaction() as cookie:
        sid = cookie["sid"]
    assert app.test_client().get("/api/v1/tasks", headers=bearer(sid)).status_code == 401
    with adb.session() as s:
        assert s.scalar(select(ApiToken.kind).order_by(ApiToken.id.desc())) == "page"


def test_the_openapi_documents_logout_and_my_tokens(app):
    paths = app.test_client().get("/api/v1/openapi.json").json["paths"]
    assert "post" in paths["/api/v1/auth/logout"]
    assert "get" in paths["/api/v1/auth/tokens"] and "delete" in paths["/api/v1/auth/tokens/{token_id}"]
    assert "429" in paths["/api/v1/auth/token"]["post"]["responses"]


# ---- item 9: security headers, HTTPS behind a proxy ----


@pytest.mark.parametrize("path", ["/login", "/", "/api/v1/tasks", "/api/v1/openapi.json"])
def test_pages_and_the_api_forbid_framing_and_sniffing(app, path):
    browser = app.test_client()
    page_login(browser, "emp")
    r = browser.get(path, follow_redirects=False)
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert re.search(r"script-src 'self' 'nonce-[\w-]+'(;|$)", csp)  # no 'unsafe-inline' scripts
    assert "img-src 'self' data: blob:" in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in r.headers  # plain HTTP


def test_the_pages_inline_scripts_carry_the_responses_nonce(app):
    browser = app.test_client()
    page_login(browser, "emp")
    r = browser.get("/")
    nonce = re.search(r"'nonce-([\w-]+)'", r.headers["Content-Security-Policy"]).group(1)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", r.text)
    assert inline and all(f'nonce="{nonce}"' in attrs for attrs in inline)
    assert nonce not in browser.get("/").headers["Content-Security-Policy"]  # a new one per response


def test_behind_a_trusted_https_proxy_hsts_and_a_secure_cookie(make_app):
    proxied = make_app(TRUSTED_PROXIES=1).test_client()
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    r = proxied.get("/login", headers=https)
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    token = form_csrf(r.text)
    login = proxied.post("/login", data={"username": "emp", "password": "demo", "csrf": token}, headers=https)
    assert login.status_code == 302 and "Secure" in login.headers["Set-Cookie"]
    listed = proxied.get("/api/v1/auth/tokens", headers=https).json
    assert listed[0]["client_address"] == "203.0.113.7"  # the client, as the proxy says

    direct = make_app().test_client()  # no proxy configured: the header is anyone's to forge
    r = direct.get("/login", headers=https)
    assert "Strict-Transport-Security" not in r.headers
    login = direct.post(
        "/login", data={"username": "emp", "password": "demo", "csrf": form_csrf(r.text)}, headers=https
    )
    assert "Secure" not in login.headers["Set-Cookie"]


def test_logging_in_again_ends_the_browsers_earlier_session(app):
    browser = app.test_client()
    page_login(browser, "emp")
    captured = app.test_client()
    captured.set_cookie("session", browser.get_cookie("session").value)
    page_login(browser, "emp")
    assert browser.get("/").status_code == 200
    assert captured.get("/").status_code == 302
