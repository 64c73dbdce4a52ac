"""Endpoint etiquette shared by every thread of a batch: a limit on requests in flight that
shrinks on 429 and grows back slowly, the server's Retry-After, jittered backoff, and a circuit
breaker that fails fast while the endpoint is down. Nothing here knows about openai."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from core.errors import EngineUnavailable

DECREASE = 0.75  # AdaptiveLimiter's multiplicative step on a 429


class AdaptiveLimiter:
    """At most `limit` requests in flight; x0.75 on 429 (min 1), +1/limit per success (AIMD).

    Not halving: against a server with a hard cap the limit settles into a saw-tooth just under
    it, and the deeper the tooth the more of the endpoint sits idle (x0.5 cost the 16-vs-8
    benchmark ~20% of its throughput, x0.75 about half of that).

    One congestion event shrinks the limit once: the 429s of requests sent before the last
    decrease were answered to the old limit, and halving again for each of them would take a
    concurrency set twice too high (16 against a server of 8) down to 1 in one burst, as TCP
    would without its once-per-round-trip rule.

    Also holds a shared pause: a server's Retry-After applies to every thread, not just the one
    that got the 429, or the others would walk straight into the same wall.
    """

    def __init__(self, max_limit: int) -> None:
        self.max_limit = max_limit
        self._limit = float(max_limit)
        self._in_flight = 0
        self._resume_at = 0.0
        self._decreased_at = -1.0
        self._cond = threading.Condition()

    @property
    def limit(self) -> int:
        return max(1, int(self._limit))

    def acquire(self) -> float:
        """Wait for a slot; returns when the request may be sent (pass it to on_rate_limited)."""
        with self._cond:
            while True:
                now = time.monotonic()
                wait = self._resume_at - now
                if wait <= 0 and self._in_flight < self.limit:
                    self._in_flight += 1
                    return now
                self._cond.wait(timeout=wait if wait > 0 else None)

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            # One slot freed, one waiter woken: notify_all woke every document thread waiting
            # (dozens in a backlog) to find the slot taken and sleep again, on every answer.
            # A woken thread that cannot send (a pause) waits on with its timeout, as before.
            self._cond.notify()

    def on_success(self) -> None:
        with self._cond:
            before = self.limit
            self._limit = min(float(self.max_limit), self._limit + 1.0 / self._limit)
            if self.limit > before:
                self._cond.notify_all()

    def on_rate_limited(self, pause_seconds: float = 0.0, sent_at: float | None = None) -> None:
        with self._cond:
            if sent_at is None or sent_at >= self._decreased_at:
                self._limit = max(1.0, self._limit * DECREASE)
                self._decreased_at = time.monotonic()
            if pause_seconds > 0:
                self._resume_at = max(self._resume_at, time.monotonic() + pause_seconds)


class CircuitBreaker:
    """After `threshold` consecutive failures, fail fast for `open_seconds`.

    When the window ends calls go through again; one more failure reopens it at once (the
    count is only reset by a success).
    """

    def __init__(self, threshold: int = 10, open_seconds: float = 30.0) -> None:
        self.threshold = threshold
        self.open_seconds = open_seconds
        self._failures = 0
        self._open_until = 0.0
        self._lock = threading.Lock()

    def check(self) -> None:
        with self._lock:
            remaining = self._open_until - time.monotonic()
        if remaining > 0:
            raise EngineUnavailable(
                f"model endpoint circuit open after {self._failures} consecutive failures; "
                f"retrying in {remaining:.0f} s"
            )

    def success(self) -> None:
        with self._lock:
            self._failures = 0

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.threshold:
                self._open_until = time.monotonic() + self.open_seconds

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._open_until > time.monotonic()


def retry_after_seconds(headers: Any) -> float | None:
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue  # an HTTP date: rare from model endpoints, fall back to backoff
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


@dataclass
class Backoff:
    """Exponential backoff with jitter: attempt n waits between half and all of base * 2**(n-1),
    at most `cap` seconds."""

    base: float = 0.5
    cap: float = 8.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        return ceiling * (0.5 + self.rng.random() / 2)
