"""Word where people work: a webhook message when a draft is made, when a file is quarantined, and
with the weekly digest's headline (`[notify]` in settings).

The body is JSON with a `text` field, which Slack and Teams incoming webhooks accept as it is (and
Power Automate or n8n pass on to LINE WORKS or Chatwork); `notify.format = "teams_workflow"` adds
an Adaptive Card attachment for Teams Workflows ("post to a channel when a webhook request is
received"). Department URLs go to the department's channel; `notify.url` takes the rest.

Exactly once, like the digest mail: an event is a row in the store, unique per event (`drafted:
<document>`, `quarantined:<document>`, `digest:<week>`), `sending` before the POST and `sent`
after a 2xx. A 429 or 5xx is retried with backoff (Retry-After honoured) and, when the attempts
of a pass run out, left `pending` for the next pass. A receiver that cannot be reached leaves the
event `pending` (nothing arrived). A connection lost after the request went out is `uncertain`:
it may have arrived, so it is not sent again.

Where it is sent from: a background thread (`Notifier`) that the batch starts beside its
documents (flows/document.open_batch). The documents only add a row and wake it, so a slow or
dead receiver holds up no draft; messages arrive while the batch still runs (and all along in
`teichaku watch`). At the end of a batch the thread gets `notify.flush_seconds` to finish; what it
has not sent stays `pending` and goes out with the next run.

Never logged: a webhook URL's path and query (Slack, Teams and Power Automate URLs carry their
secret there); logs name scheme and host only. Never in a message unless `notify.include_personal`:
a real file name (a drafted file is named as the guard masked it for the model; a quarantined one
is not named, since the guard may not have read it) and the file owner.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit

from core.settings import NotifySettings, Settings
from core.specs import PromptSpec
from core.store import Notification, Store

log = logging.getLogger(__name__)

Status = Literal["sent", "pending", "uncertain", "failed"]
BACKOFF_SECONDS = (1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class Event:
    """One thing to announce. `text` is the whole message; `facts` are its parts for a card."""

    key: str
    kind: Literal["drafted", "quarantined", "digest"]
    department: str | None
    department_name: str | None
    title: str
    text: str
    facts: tuple[tuple[str, str], ...] = ()

    def payload(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "text": self.text,
            "facts": [list(f) for f in self.facts],
            "department_name": self.department_name,
        }


# --- events ----------------------------------------------------------------------------------


def _where(spec: PromptSpec) -> str:
    return f"{spec.department_name}/{spec.document_name}"


def drafted_event(
    spec: PromptSpec,
    document_id: int,
    *,
    outbox_rel: str,
    real_name: str,
    masked_name: str | None,
    settings: Settings,
) -> Event:
    """A draft is ready: which file (as the guard masked it, unless personal values are allowed),
    by which spec, and the folder it is in."""
    name = _file_label(real_name, masked_name, settings)
    title = f"AI下書きができました（{_where(spec)}）"
    facts = (
        ("ファイル", name),
        ("仕様", f"{spec.title}（{spec.id} v{spec.version}）"),
        ("下書きの場所", f"{outbox_rel}/"),
    )
    text = (
        f"{title}: {name} の下書きを {outbox_rel}/ に置きました。"
        "内容を確認してから使ってください（AI下書き・要確認）。"
    )
    return Event(f"drafted:{document_id}", "drafted", spec.department, spec.department_name, title, text, facts)  # fmt: skip


def quarantined_event(
    spec: PromptSpec,
    document_id: int | str,
    *,
    quarantine_rel: str,
    real_name: str,
    reason: str,
    settings: Settings,
) -> Event:
    """A file could not be processed: the reason, and where it and its .error.txt are."""
    name = real_name if settings.notify.include_personal else "受付に置かれたファイル"
    title = f"ファイルを隔離しました（{_where(spec)}）"
    facts = (("ファイル", name), ("理由", reason), ("場所", f"{quarantine_rel}/"))
    text = f"{title}: {name} は処理できませんでした。理由: {reason} 詳しくは {quarantine_rel}/ の .error.txt をご覧ください。"
    return Event(f"quarantined:{document_id}", "quarantined", spec.department, spec.department_name, title, text, facts)  # fmt: skip


def digest_event(week: str, headline: str, link: str | None = None) -> Event:
    """The weekly digest's headline, for the default channel."""
    title = f"teichaku 週次レポート {week}"
    text = f"{title}: {headline}" + (f" プロンプト集: {link}" if link else "")
    return Event(f"digest:{week}", "digest", None, None, title, text, (("週", week),))


def _file_label(real_name: str, masked_name: str | None, settings: Settings) -> str:
    if settings.notify.include_personal:
        return real_name
    if settings.guard.enabled and masked_name:
        return masked_name
    return "1 件のファイル"  # no masked name to show: name nothing rather than a person


# --- where and what --------------------------------------------------------------------------


def url_for(cfg: NotifySettings, department: str | None, department_name: str | None) -> str | None:
    """The department's webhook (by id or Japanese name), else the default; None: nowhere."""
    for key in (department, department_name):
        if key and key in cfg.departments:
            return cfg.departments[key].get_secret_value()
    return cfg.url.get_secret_value() if cfg.url else None


def redact(url: str) -> str:
    """scheme://host/… : webhook URLs carry their secret in the path or the query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/…"


def body(cfg: NotifySettings, payload: dict[str, Any]) -> dict[str, Any]:
    """The JSON posted: `text` always; an Adaptive Card too for Teams Workflows."""
    out: dict[str, Any] = {"text": payload["text"]}
    if cfg.format == "teams_workflow":
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {"type": "TextBlock", "text": payload["title"], "weight": "Bolder", "wrap": True},
                {"type": "TextBlock", "text": payload["text"], "wrap": True},
                {
                    "type": "FactSet",
                    "facts": [{"title": k, "value": v} for k, v in payload.get("facts", [])],
                },
            ],
        }
        out |= {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": card,
                }
            ],
        }
    return out


# --- sending ---------------------------------------------------------------------------------


def _plain_sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


class Delivery(NamedTuple):
    status: Status
    attempts: int
    error: str | None = None


def _retry_after(err: urllib.error.HTTPError, cap: float) -> float | None:
    value = err.headers.get("Retry-After") if err.headers else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value).timestamp()) - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), cap)


def post(
    url: str,
    data: dict[str, Any],
    cfg: NotifySettings,
    sleep: Callable[[float], bool] | None = None,
) -> Delivery:
    """POST one message; retry 429 / 5xx with backoff. `sleep(seconds)` returns True to stop
    waiting (the batch is closing): the event then stays pending."""
    sleep = sleep or _plain_sleep
    raw = json.dumps(data, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "teichaku"}
    error = None
    for attempt in range(1, cfg.max_attempts + 1):
        request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=cfg.timeout_seconds) as resp:
                resp.read()
            return Delivery("sent", attempt)
        except urllib.error.HTTPError as e:
            error = f"HTTP {e.code}"
            if e.code != 429 and e.code < 500:
                return Delivery("failed", attempt, error)  # refused as such: resending won't help
            wait = _retry_after(e, cfg.max_retry_after_seconds)
            wait = (
                BACKOFF_SECONDS[min(attempt - 1, len(BACKOFF_SECONDS) - 1)]
                if wait is None
                else wait
            )
            if attempt < cfg.max_attempts and sleep(wait):
                return Delivery("pending", attempt, error)
        except urllib.error.URLError as e:  # before or while the request was sent: nothing arrived
            return Delivery("pending", attempt, f"unreachable: {e.reason}")
        except (OSError, http.client.HTTPException) as e:  # after it went out: may have arrived
            return Delivery("uncertain", attempt, f"no answer: {type(e).__name__}")
    return Delivery("pending", cfg.max_attempts, error)


@dataclass
class SendReport:
    sent: int = 0
    left: int = 0  # pending for the next pass


def send_pending(
    settings: Settings, store: Store, *, stop: threading.Event | None = None
) -> SendReport:
    """Send every pending event once. A receiver that cannot be reached is tried once per pass:
    its other events wait for the next pass instead of each waiting for a timeout."""
    cfg = settings.notify
    report = SendReport()
    unreachable: set[str] = set()
    for n in store.pending_notifications():
        if stop is not None and stop.is_set():
            report.left += 1
            continue
        url = url_for(cfg, n.department, (n.payload or {}).get("department_name"))
        if url is None or n.attempts >= cfg.give_up_after:
            why = "no webhook URL" if url is None else f"gave up after {n.attempts} attempts"
            store.finish_notification(n.id, "failed", attempts=0, error=why)
            continue
        if url in unreachable:
            report.left += 1
            continue
        if not store.begin_notification(n.id):
            continue  # another sender has it
        delivery = _deliver(n, url, cfg, stop)
        store.finish_notification(
            n.id, delivery.status, attempts=delivery.attempts, error=delivery.error
        )
        if delivery.status == "sent":
            report.sent += 1
        elif delivery.status == "pending":
            report.left += 1
            if delivery.error and delivery.error.startswith("unreachable"):
                unreachable.add(url)
    return report


def _deliver(
    n: Notification, url: str, cfg: NotifySettings, stop: threading.Event | None
) -> Delivery:
    delivery = post(url, body(cfg, n.payload), cfg, stop.wait if stop is not None else None)
    if delivery.status != "sent":
        log.warning(
            "webhook %s for %s: %s (%s)", redact(url), n.event_key, delivery.status, delivery.error
        )
    return delivery


# --- the background sender -------------------------------------------------------------------


class Notifier:
    """Sends events from a thread of its own, so documents never wait for a webhook."""

    IDLE_SECONDS = 30.0  # a pass now and then even when nobody wakes it (events of other workers)

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._abort = threading.Event()  # stops backoff waits and further sends at once
        self._thread = threading.Thread(target=self._run, name="teichaku-notify", daemon=True)

    @classmethod
    def start_for(cls, settings: Settings, store: Store) -> Notifier | None:
        """A running sender when a webhook is configured, else None."""
        if not settings.notify.configured():
            return None
        notifier = cls(settings, store)
        notifier._thread.start()
        return notifier

    def announce(self, event: Event) -> None:
        """Record the event (once) and wake the sender. Costs the document one insert."""
        if event.kind not in self.settings.notify.events:
            return
        try:
            added = self.store.add_notification(
                event.key, kind=event.kind, department=event.department, payload=event.payload()
            )
        except Exception:  # a notification must never fail a document
            log.warning("could not record notification %s", event.key, exc_info=True)
            return
        if added:
            self._wake.set()

    def close(self, flush_seconds: float | None = None) -> None:
        """Let the sender finish for at most `flush_seconds` (default notify.flush_seconds); what
        is left stays pending for the next run."""
        grace = self.settings.notify.flush_seconds if flush_seconds is None else flush_seconds
        self._closing.set()
        self._wake.set()
        self._thread.join(grace)
        if self._thread.is_alive():
            self._abort.set()  # an in-flight request ends with its own timeout; the thread is a daemon
            log.info("notifications left for the next run")

    def _run(self) -> None:
        while not self._abort.is_set():
            self._wake.clear()
            closing = self._closing.is_set()
            try:
                send_pending(self.settings, self.store, stop=self._abort)
            except Exception:  # a store hiccup: the next pass tries again
                log.warning("notification pass failed", exc_info=True)
            if closing:  # the last pass after close(): what is left waits for the next run
                return
            self._wake.wait(self.IDLE_SECONDS)


def announce_now(settings: Settings, store: Store, event: Event) -> SendReport | None:
    """Record one event and send what is pending, in this thread (the digest job, not a batch);
    None when no webhook is configured or the event is not wanted."""
    cfg = settings.notify
    if not cfg.configured() or event.kind not in cfg.events:
        return None
    store.add_notification(
        event.key, kind=event.kind, department=event.department, payload=event.payload()
    )
    return send_pending(settings, store)
