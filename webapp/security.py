"""Security headers on every response, the session cookie's `Secure` flag behind HTTPS, and trusting the
`X-Forwarded-*` headers of a configured number of reverse proxies (`BPM_TRUSTED_PROXIES`).

The Content-Security-Policy allows scripts only from this site and inline ones carrying the request's
nonce (the pages' few `<script>` blocks of configuration); bpmn-js, form-js and the modeler are served
from /static/vendor. Inline styles stay allowed: bpmn-js and form-js set style attributes and the form-js
HTML view scopes a `<style>` of the form's own. Images only from this site or data:/blob: URLs, so that
no case data or form can make a reviewer's browser fetch anything from elsewhere.
"""

from __future__ import annotations

import secrets

from flask import Flask, g, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.config import trusted_proxies

HSTS = "max-age=31536000"  # one year; subdomains are left to whoever runs them


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def content_security_policy(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "frame-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie is `Secure` whenever the request came over HTTPS (directly, or as a trusted
    proxy says), or always with SESSION_COOKIE_SECURE."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def init_app(app: Flask) -> None:
    proxies = app.config.get("TRUSTED_PROXIES", trusted_proxies())
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)
    app.session_interface = SessionInterface()
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce()))
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", HSTS)
        if request.endpoint != "static" and "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"  # no case data left in a shared browser's cache after logout
        return response
