"""Webhooks through a real HTTP receiver (http.server on 127.0.0.1, started here): one event per
drafted and per quarantined file, none again on a run with nothing new, 429 then 200 delivered
once, a receiver that is down delays nothing, and the URL's secret never in a log or message."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.settings import NotifySettings, Settings, load_settings
from core.specs import load_specs
from core.store import Store
from core.workspace import folders_for, init_workspace
from flows.batch import run_direct
from tasks.notify import body, digest_event, post, redact, send_pending
from tests.support.samples import write_samples

SECRET = "T0123/B0456/XyZsecretTOKEN"


class Receiver:
    """A webhook receiver: answers with the queued status codes (then 200), keeps what it accepted."""

    def __init__(self) -> None:
        self.accepted: list[dict] = []
        self.requests = 0
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests += 1
                code = receiver.answers.pop(0) if receiver.answers else 200
                if code == 200:
                    receiver.accepted.append({"path": self.path, **json.loads(data)})
                self.send_response(code)
                if code == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook/{SECRET}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def closed_port_url() -> str:
    """A URL on which nothing listens: a receiver that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook/{SECRET}"


def workspace(root: Path, monkeypatch: pytest.MonkeyPatch, url: str | None) -> Settings:
    monkeypatch.setenv("TEICHAKU_GUARD__NER", "false")
    monkeypatch.setenv("TEICHAKU_INTAKE__CPU_WORKERS", "0")
    if url:
        monkeypatch.setenv("TEICHAKU_NOTIFY__URL", url)
    init_workspace(root, load_specs(root), load_settings(root))
    return load_settings(root)


def drop_files(settings: Settings) -> None:
    specs = {s.spec.id: s.spec for s in load_specs(settings.workspace)}
    for spec_id in ("sales/meeting_minutes", "admin/ringi"):
        write_samples(spec_id, folders_for(settings, specs[spec_id]).inbox)
    inbox = folders_for(settings, specs["sales/meeting_minutes"]).inbox
    (inbox / "壊れた議事録.docx").write_bytes(b"PK\x03\x04 not a zip")


def test_one_event_per_drafted_and_quarantined_file_and_none_again(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = workspace(tmp_path / "共有", monkeypatch, receiver.url)
    drop_files(settings)
    caplog.set_level(logging.DEBUG)
    summary = run_direct(settings)
    assert (summary.count("drafted"), summary.count("quarantined")) == (2, 1)
    kinds = sorted(e["text"].split("（")[0] for e in receiver.accepted)
    assert kinds == ["AI下書きができました", "AI下書きができました", "ファイルを隔離しました"]
    assert all(e["path"] == f"/hook/{SECRET}" for e in receiver.accepted)
    texts = " ".join(e["text"] for e in receiver.accepted)
    assert "営業部/商談議事録/下書き/" in texts
    # Personal values stay out by default: the masked name, and no name for the quarantined file.
    assert "ABC商事" not in texts and "壊れた議事録" not in texts
    assert "[会社" in texts

    drop_nothing = run_direct(settings)  # nothing new: no event again
    assert drop_nothing.outcomes == []
    assert len(receiver.accepted) == 3 and receiver.requests == 3
    with Store.open(settings) as store:
        assert [n.status for n in store.notifications()] == ["sent"] * 3
    assert SECRET not in caplog.text


def test_429_then_200_is_delivered_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    settings = workspace(tmp_path / "共有", monkeypatch, receiver.url)
    receiver.answers = [429, 503]
    with Store.open(settings) as store:
        store.add_notification("digest:2026-W48", kind="digest", department=None,
                               payload=digest_event("2026-W48", "下書き 12 件").payload())  # fmt: skip
        report = send_pending(settings, store)
        again = send_pending(settings, store)
        (row,) = store.notifications()
    assert (report.sent, again.sent) == (1, 0)
    assert receiver.requests == 3 and len(receiver.accepted) == 1
    assert (row.status, row.attempts) == ("sent", 3)


def test_a_receiver_that_is_down_delays_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    warm = workspace(tmp_path / "準備", monkeypatch, None)
    drop_files(warm)
    run_direct(warm)  # imports and first loads are not what is timed
    quiet = workspace(tmp_path / "通知なし", monkeypatch, None)
    drop_files(quiet)
    started = time.monotonic()
    run_direct(quiet)
    baseline = time.monotonic() - started

    down = workspace(tmp_path / "通知先が停止中", monkeypatch, closed_port_url())
    drop_files(down)
    started = time.monotonic()
    summary = run_direct(down)
    elapsed = time.monotonic() - started
    assert summary.count("drafted") == 2
    print(f"run without webhook {baseline:.2f} s, with its receiver down {elapsed:.2f} s")
    assert elapsed < baseline + 1.0, (elapsed, baseline)
    with Store.open(down) as store:  # nothing lost: the events wait for the receiver
        assert sorted(n.status for n in store.notifications()) == ["pending"] * 3

    # The receiver is back: the next run sends what waited, once.
    monkeypatch.setenv("TEICHAKU_NOTIFY__URL", receiver.url)
    run_direct(load_settings(down.workspace))
    assert len(receiver.accepted) == 3


def test_teams_workflow_card_and_redacted_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEICHAKU_NOTIFY__FORMAT", "teams_workflow")
    settings = workspace(
        tmp_path / "共有", monkeypatch, "https://prod.example.com/workflows/x?sig=abc"
    )
    payload = digest_event("2026-W48", "下書き 12 件・採用 8 件").payload()
    card = body(settings.notify, payload)
    assert card["text"].endswith("下書き 12 件・採用 8 件")
    (attachment,) = card["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["type"] == "AdaptiveCard"
    assert redact("https://prod.example.com/workflows/x?sig=abc") == "https://prod.example.com/…"
    assert body(NotifySettings(), payload) == {"text": payload["text"]}


def test_a_refused_message_is_not_retried(receiver: Receiver) -> None:
    receiver.answers = [400]
    delivery = post(receiver.url, {"text": "x"}, NotifySettings())
    assert (delivery.status, delivery.attempts, receiver.requests) == ("failed", 1, 1)


def test_the_digest_headline_goes_out_once_a_week(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    from flows.digest import weekly_digest

    settings = workspace(tmp_path / "共有", monkeypatch, receiver.url)
    specs = load_specs(settings.workspace)
    for _ in range(2):  # the scheduled flow runs again (a retry): the headline is not repeated
        weekly_digest(settings, specs, "2026-W48", send=False, announce=True)
    (event,) = receiver.accepted
    assert event["text"].startswith("teichaku 週次レポート 2026-W48: 【teichaku 週次レポート】")
