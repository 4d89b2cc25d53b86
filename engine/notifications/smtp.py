"""The mail server's client: a connection whose failures say what they mean for the batch (`Permanent`
for the one mail, `Broken` for the rest), in Chinese for the outbox's `last_error`."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

SMTP_TIMEOUT = 10  # seconds, on connect and on every exchange with the server


class Permanent(Exception):
    """The server refused the recipient for good (5xx): retrying cannot help."""


class Broken(Exception):
    """The connection to the server failed: every mail left in the batch fails with it."""


def connect(smtp_config: dict) -> Connection:
    host, port, security = smtp_config["host"], smtp_config["port"], smtp_config["security"]
    connection: smtplib.SMTP | None = None
    try:
        if security == "ssl":
            connection = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT, context=ssl.create_default_context())
        else:
            connection = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
            if security == "starttls":
                connection.starttls(context=ssl.create_default_context())
        if smtp_config["user"]:
            connection.login(smtp_config["user"], smtp_config["password"] or "")
    except (smtplib.SMTPException, OSError) as exc:
        if connection is not None:
            connection.close()
        if isinstance(exc, smtplib.SMTPResponseException):
            raise Broken(f"邮件服务器 {host}:{port} 拒绝连接或登录：{response_text(exc)}") from exc
        raise Broken(error_text(exc, smtp_config)) from exc
    return Connection(connection)


class Connection:
    """An SMTP connection whose recipient refusals say whether they are permanent."""

    def __init__(self, smtp: smtplib.SMTP):
        self.smtp = smtp

    def send_message(self, message: EmailMessage) -> None:
        try:
            refused = self.smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            reason = f"收件人被拒收：{code} {_decode(text)}"
            if 500 <= code < 600:
                raise Permanent(reason) from exc
            raise smtplib.SMTPResponseException(code, reason) from exc
        if refused:  # one recipient per message: not reached, but never silently drop a refusal
            raise Permanent(f"收件人被拒收：{refused}")

    def quit(self) -> None:
        self.smtp.quit()

    def close(self) -> None:
        self.smtp.close()


def close(connection: Connection | None) -> None:
    if connection is not None:
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()


def _decode(text) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def response_text(exc: smtplib.SMTPResponseException) -> str:
    text = _decode(exc.smtp_error)
    return text if text.startswith("收件人被拒收") else f"{exc.smtp_code} {text}"


def error_text(exc: BaseException, smtp_config: dict) -> str:
    return f"无法连接邮件服务器 {smtp_config['host']}:{smtp_config['port']}：{type(exc).__name__}: {exc}"
