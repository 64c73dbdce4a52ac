"""The mailer against a real SMTP server on loopback: exactly once per week, whatever fails."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from core.settings import SmtpSettings
from core.store import Digest, Store
from kpi.digest import DigestMail
from kpi.mailer import DigestSendError, send_digest
from tests.support.smtp_server import SmtpSink, free_port, self_signed_cert

WEEK = "2026-W48"
RCPTS = ["dx@example.co.jp", "eigyo-bucho@example.co.jp"]


def _mail(week: str = WEEK) -> DigestMail:
    return DigestMail(
        week=week,
        subject="【teichaku 週次レポート】㈱髙橋製作所①～ 削減時間 推定12.5時間・確定3.0時間",
        text="本文\n.先頭がドットの行\n",
        html="<p>本文</p>",
        markdown="本文",
    )


def _smtp(port: int, **kw: object) -> SmtpSettings:
    base: dict[str, object] = {"host": "127.0.0.1", "port": port, "starttls": False, "timeout_seconds": 5,
                               "sender": "teichaku@example.co.jp"}  # fmt: skip
    return SmtpSettings(**{**base, **kw})  # type: ignore[arg-type]


@pytest.fixture
def store(sqlite_url: str):
    with Store(sqlite_url) as s:
        yield s


def _row(store: Store, week: str = WEEK) -> Digest | None:
    """The week's exactly-once record, as the store holds it."""
    with store.session() as s:
        return s.scalars(select(Digest).where(Digest.week == week)).first()


def test_sent_once_then_no_op_until_resend(store: Store) -> None:
    with SmtpSink() as sink:
        first = send_digest(store, _smtp(sink.port), _mail(), RCPTS)
        second = send_digest(store, _smtp(sink.port), _mail(), RCPTS)
        assert (first.status, second.status) == ("sent", "already_sent")
        assert len(sink.received) == 1
        got = sink.received[0]
        assert got.rcpt_tos == RCPTS
        assert got.message["Subject"] == _mail().subject
        # Dot-stuffing survived the hand-written DATA phase.
        assert ".先頭がドットの行" in got.message.get_body(("plain",)).get_content()
        again = send_digest(store, _smtp(sink.port), _mail(), RCPTS, resend=True)
        assert again.status == "sent"
        assert len(sink.received) == 2
    row = _row(store)
    assert row is not None and row.status == "sent" and row.attempts == 2


def test_failure_before_data_is_retryable(store: Store) -> None:
    with SmtpSink("refuse_rcpt") as sink:
        with pytest.raises(DigestSendError):
            send_digest(store, _smtp(sink.port), _mail(), RCPTS)
        assert sink.received == []
    assert _row(store).status == "failed"  # type: ignore[union-attr]
    with SmtpSink() as sink:
        assert send_digest(store, _smtp(sink.port), _mail(), RCPTS).status == "sent"
        assert send_digest(store, _smtp(sink.port), _mail(), RCPTS).status == "already_sent"
        assert len(sink.received) == 1


def test_no_server_is_a_retryable_failure(store: Store) -> None:
    with pytest.raises(DigestSendError):
        send_digest(store, _smtp(free_port()), _mail(), RCPTS)
    assert _row(store).status == "failed"  # type: ignore[union-attr]


def test_connection_lost_after_data_is_uncertain_and_not_resent(store: Store) -> None:
    with SmtpSink("drop_after_data") as sink:
        outcome = send_digest(store, _smtp(sink.port), _mail(), RCPTS)
        assert outcome.status == "uncertain"
        assert len(sink.received) == 1  # the server did get it
    assert _row(store).status == "uncertain"  # type: ignore[union-attr]
    with SmtpSink() as sink:
        assert send_digest(store, _smtp(sink.port), _mail(), RCPTS).status == "uncertain"
        assert sink.received == []
        assert send_digest(store, _smtp(sink.port), _mail(), RCPTS, resend=True).status == "sent"
        assert len(sink.received) == 1


def test_partial_refusal_sends_to_the_rest(store: Store) -> None:
    with SmtpSink() as sink:

        async def handle_rcpt(server, session, envelope, address, options):
            if address.startswith("eigyo"):
                return "550 5.1.1 unknown"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        sink.handler.handle_RCPT = handle_rcpt  # type: ignore[method-assign]
        outcome = send_digest(store, _smtp(sink.port), _mail(), RCPTS)
        assert outcome.status == "sent"
        assert list(outcome.refused) == ["eigyo-bucho@example.co.jp"]
        assert sink.received[0].rcpt_tos == ["dx@example.co.jp"]


def test_starttls_and_auth(store: Store, tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    with SmtpSink(tls=(cert, key), auth=("teichaku", "p@ss")) as sink:
        cfg = _smtp(
            sink.port, username="teichaku", password=SecretStr("p@ss"), ca_file=cert
        ).model_copy(update={"starttls": True})
        assert send_digest(store, cfg, _mail(), RCPTS).status == "sent"
        assert len(sink.received) == 1


def test_wrong_password_is_retryable_failure(store: Store, tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    with SmtpSink(tls=(cert, key), auth=("teichaku", "p@ss")) as sink:
        cfg = _smtp(
            sink.port, username="teichaku", password=SecretStr("wrong"), ca_file=cert, starttls=True
        )
        with pytest.raises(DigestSendError) as e:
            send_digest(store, cfg, _mail(), RCPTS)
        assert "wrong" not in str(e.value)
        assert sink.received == []
    assert _row(store).status == "failed"  # type: ignore[union-attr]


def test_starttls_required_but_not_offered_sends_nothing(store: Store) -> None:
    with SmtpSink() as sink:
        with pytest.raises(DigestSendError, match="STARTTLS"):
            send_digest(store, _smtp(sink.port, starttls=True), _mail(), RCPTS)
        assert sink.received == []


def test_implicit_tls(store: Store, tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    with SmtpSink(tls=(cert, key), implicit_tls=True) as sink:
        cfg = _smtp(sink.port, ssl=True, ca_file=cert)
        assert send_digest(store, cfg, _mail(), RCPTS).status == "sent"
        assert len(sink.received) == 1


def test_only_one_of_many_racing_senders_claims_the_week(store_url: str) -> None:
    with Store(store_url) as store:
        _race_for_the_week(store)


def _race_for_the_week(store: Store) -> None:
    results: list[str] = []
    barrier = threading.Barrier(6)

    def go() -> None:
        barrier.wait()
        results.append(
            store.begin_digest_send(WEEK, subject="s", recipients=RCPTS, message_id="<m@x>")
        )

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("send") == 1
    assert set(results) <= {"send", "in_progress"}
