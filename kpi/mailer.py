"""Send the weekly digest over SMTP exactly once per week.

The store row for the week is the record (core.store.Digest):

- `sending` is written before connecting; only one caller can claim a week.
- Anything that fails before the message body is sent (connection, STARTTLS, AUTH, a refused
  sender or recipients, a refused DATA command) cannot have delivered anything: the week is
  marked `failed` and the next `--send` tries again.
- Once the body is on the wire, a lost connection or a timeout leaves us not knowing whether
  the server took it (kobotoolbox/kpi #7435 sent twice this way): the week is marked
  `uncertain` and is not sent again unless a person says `--resend`.
- `sent` only after the server's 250 reply to the body.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.utils import make_msgid
from typing import Literal

from core.errors import ConfigError
from core.settings import SmtpSettings
from core.store import Store
from kpi.digest import DigestMail, build_message

SendStatus = Literal["sent", "already_sent", "uncertain", "in_progress", "failed"]

MESSAGES_JA: dict[str, str] = {
    "sent": "{week} の週次レポートを送信しました（{n} 件の宛先）。",
    "already_sent": "{week} の週次レポートは送信済みです。もう一度送るには --resend を付けてください。",
    "uncertain": (
        "{week} の週次レポートは前回、本文の送信中に接続が切れたため届いたかどうか不明です。"
        "受信側で確認し、届いていなければ --resend を付けて送ってください。"
    ),
    "in_progress": (
        "{week} の週次レポートは別の処理が送信中か、送信中に停止しました。"
        "届いていないことを確認してから --resend を付けて送ってください。"
    ),
    "failed": "{week} の週次レポートを送信できませんでした（次回の --send で再送できます）: {error}",
}


class DigestSendError(RuntimeError):
    """Nothing was delivered; the week stays retryable."""


class _DeliveryUncertain(Exception):
    pass


@dataclass
class SendOutcome:
    week: str
    status: SendStatus
    recipients: list[str]
    refused: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def message_ja(self) -> str:
        return MESSAGES_JA[self.status].format(
            week=self.week, n=len(self.recipients), error=self.error or ""
        )


def send_digest(
    store: Store,
    smtp_settings: SmtpSettings,
    mail: DigestMail,
    recipients: list[str],
    *,
    resend: bool = False,
) -> SendOutcome:
    """Send `mail` to `recipients` unless this week's digest was sent (or may have been)."""
    if not smtp_settings.host:
        raise ConfigError("TEICHAKU_SMTP__HOST（SMTP サーバー）が設定されていません。")
    if not recipients:
        raise ConfigError(
            "宛先がありません。TEICHAKU_DIGEST__RECIPIENTS に JSON の配列で指定してください。"
        )
    sender = smtp_settings.sender
    message_id = make_msgid(domain=sender.rpartition("@")[2] or None)
    decision = store.begin_digest_send(
        mail.week, subject=mail.subject, recipients=recipients, message_id=message_id, resend=resend
    )
    if decision != "send":
        return SendOutcome(mail.week, decision, recipients)
    data = build_message(
        mail, sender=sender, recipients=recipients, message_id=message_id
    ).as_bytes()
    phase = _Phase()
    try:
        refused = _deliver(smtp_settings, sender, recipients, data, phase)
    except _DeliveryUncertain as e:
        store.finish_digest_send(mail.week, "uncertain", _clean(str(e.__cause__ or e)))
        return SendOutcome(mail.week, "uncertain", recipients, error=_clean(str(e.__cause__ or e)))
    except (OSError, smtplib.SMTPException) as e:  # smtplib's errors are OSErrors too
        error = _clean(f"{type(e).__name__}: {e}")
        store.finish_digest_send(mail.week, "failed", error)
        raise DigestSendError(MESSAGES_JA["failed"].format(week=mail.week, error=error)) from e
    except BaseException:
        # Interrupted (Ctrl-C, a killed worker): whether the server has it depends on how far we got.
        store.finish_digest_send(
            mail.week, "uncertain" if phase.body_sent else "failed", "interrupted"
        )
        raise
    accepted = [r for r in recipients if r not in refused]
    store.finish_digest_send(mail.week, "sent", _refused_note(refused))
    return SendOutcome(mail.week, "sent", accepted, refused=refused)


@dataclass
class _Phase:
    body_sent: bool = False


def _clean(s: str) -> str:
    # Server replies arrive as bytes reprs; keep the record readable and short.
    return re.sub(r"\s+", " ", s)[:500]


def _refused_note(refused: dict[str, str]) -> str | None:
    return (
        _clean("refused: " + ", ".join(f"{k} ({v})" for k, v in refused.items()))
        if refused
        else None
    )


def _tls_context(cfg: SmtpSettings) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if cfg.ca_file:
        ctx.load_verify_locations(cafile=str(cfg.ca_file))
    return ctx


def _deliver(
    cfg: SmtpSettings, sender: str, recipients: list[str], data: bytes, phase: _Phase
) -> dict[str, str]:
    """One SMTP transaction, step by step, so we know whether the body went out when it fails."""
    port = cfg.effective_port()
    if cfg.ssl:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            cfg.host, port, timeout=cfg.timeout_seconds, context=_tls_context(cfg)
        )
    else:
        smtp = smtplib.SMTP(cfg.host, port, timeout=cfg.timeout_seconds)
    try:
        smtp.ehlo()
        if cfg.starttls and not cfg.ssl:
            if not smtp.has_extn("starttls"):
                # Never fall back to plain text: the password and the figures would travel in clear.
                raise smtplib.SMTPNotSupportedError(
                    "server does not offer STARTTLS (set TEICHAKU_SMTP__STARTTLS=false to allow plain SMTP)"
                )
            smtp.starttls(context=_tls_context(cfg))
            smtp.ehlo()
        if cfg.username:
            smtp.login(cfg.username, cfg.password.get_secret_value() if cfg.password else "")
        code, resp = smtp.mail(sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, resp, sender)
        refused: dict[str, str] = {}
        for rcpt in recipients:
            code, resp = smtp.rcpt(rcpt)
            if code not in (250, 251):
                refused[rcpt] = f"{code} {resp.decode('utf-8', 'replace')}"
        if len(refused) == len(recipients):
            raise smtplib.SMTPRecipientsRefused({r: (0, v.encode()) for r, v in refused.items()})
        code, resp = smtp.docmd("DATA")
        if code != 354:
            raise smtplib.SMTPDataError(code, resp)
        phase.body_sent = True
        try:
            smtp.send(_dot_stuff(data))
            code, resp = smtp.getreply()
        except OSError as e:  # includes SMTPServerDisconnected and timeouts
            raise _DeliveryUncertain("connection lost after the message was sent") from e
        if code != 250:
            raise smtplib.SMTPDataError(code, resp)  # an explicit refusal: nothing was accepted
        return refused
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def _dot_stuff(data: bytes) -> bytes:
    """RFC 5321 transparency: a line starting with "." gets another; end with CRLF "." CRLF."""
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"
