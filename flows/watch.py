"""`teichaku watch`: notice files dropped into the inboxes and draft them, until told to stop.

Three ways to notice, because no one of them is enough on a shared folder:

- a polling scan every `watch.poll_interval_seconds`: the only thing that works on SMB/NFS
  shares and bind mounts, where OS events never arrive for writes made by other machines;
- OS file events (watchfiles), only to wake the scan early where events do work;
- a full rescan every `watch.rescan_seconds`: re-checks the folders (a share that dropped and came
  back), restarts the event thread if it died, and lets files that waited be retried.

A file is handed on only when its size and mtime stayed the same for `watch.quiet_seconds`, no
event arrived for it in that time, and it can be opened: network copies arrive in chunks and
scanners reopen a file per page. A file that is still changing stays a candidate: it is never
dropped, only looked at again later.

Ready files go straight to `flows.document.process_document` in worker threads sharing one
`BatchContext` (one engine, one store). A Prefect flow run per file would cost more than the
quiet period itself (an in-process server takes seconds to start; each flow run several API
round trips), and the claim in the store already gives exactly-once across watchers, `teichaku
run` and the intake deployment.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.models import DiscoveredFile, DocumentOutcome
from core.settings import Settings
from core.specs import LoadedSpec
from core.workspace import folders_for
from flows.document import BatchContext, open_batch, process_document, release_claims
from tasks.discover import scan_inbox

log = logging.getLogger("teichaku.watch")


@dataclass
class Candidate:
    """A file seen in an inbox and not yet handed on (or handed on and still there)."""

    found: DiscoveredFile
    signature: tuple[int, int]  # (size, mtime_ns) when last seen
    stable_since: float  # monotonic time of the last observed change
    not_before: float = 0.0  # retry back-off after an attempt that left the file in place
    in_flight: bool = False


@dataclass
class WatchReport:
    """What a watch session did, for the closing line and the tests."""

    outcomes: list[DocumentOutcome] = field(default_factory=list)
    errors: int = 0
    abandoned: int = 0  # documents still in progress when the grace period ran out
    released: int = 0  # claims released for other workers after that


def folder_problems(
    settings: Settings, specs: list[LoadedSpec], *, probe_writes: bool = True
) -> list[str]:
    """Japanese lines for watched folders that are missing or cannot be written (empty when fine)."""
    problems: list[str] = []
    for loaded in specs:
        f = folders_for(settings, loaded.spec)
        for label, folder in (
            ("受付", f.inbox),
            ("下書き", f.outbox),
            ("処理済み", f.archive),
            ("隔離", f.quarantine),
        ):
            if not folder.is_dir():
                problems.append(f"{loaded.spec.id}: {label}フォルダがありません: {folder}")
            elif probe_writes and not _writable(folder):
                problems.append(f"{loaded.spec.id}: {label}フォルダに書き込めません: {folder}")
    return problems


def _writable(folder: Path) -> bool:
    # os.access trusts mode bits, which SMB/NFS ACLs override: try the real thing. The name is a
    # hidden .tmp file, which discovery and every watcher (ours included) ignore.
    probe = folder / f".teichaku-probe-{os.getpid()}-{uuid.uuid4().hex[:6]}.tmp"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        return False
    return True


def _can_open(path: Path) -> bool:
    """False while another program holds the file exclusively (Windows/SMB share modes)."""
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError:
        return False
    return True


class Watcher:
    def __init__(
        self,
        settings: Settings,
        specs: list[LoadedSpec],
        *,
        engine: object | None = None,
        on_outcome: Callable[[DocumentOutcome], None] | None = None,
    ) -> None:
        self.settings = settings
        self.specs = specs
        self.cfg = settings.watch
        # The intake setting may ask for a longer quiet period; never a shorter one than watch's.
        self.quiet = max(self.cfg.quiet_seconds, settings.intake.quiet_seconds)
        self.workers = self.cfg.workers or settings.llm.concurrency
        self.on_outcome = on_outcome
        self.report = WatchReport()
        self._engine = engine
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._candidates: dict[str, Candidate] = {}
        self._events: dict[str, float] = {}
        self._queue: queue.Queue[Candidate | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._event_thread: threading.Thread | None = None
        self._inboxes = {s.spec.id: folders_for(settings, s.spec).inbox for s in specs}

    # -- control ----------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the watcher to stop (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> WatchReport:
        """Watch until `stop()`; then finish or release documents in progress and return."""
        ctx = open_batch(self.settings, self.specs, engine=self._engine)
        for i in range(self.workers):
            t = threading.Thread(
                target=self._work, args=(ctx,), name=f"teichaku-doc-{i}", daemon=True
            )
            t.start()
            self._threads.append(t)
        next_poll = next_rescan = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_rescan:
                    self._rescan()
                    next_rescan = now + self.cfg.rescan_seconds
                self._scan(now)
                next_poll = now + self.cfg.poll_interval_seconds
                next_ready = self._dispatch(time.monotonic())
                timeout = max(0.05, min(next_poll, next_rescan, next_ready) - time.monotonic())
                self._wake.wait(timeout)
                self._wake.clear()
        finally:
            self._shutdown(ctx)
        return self.report

    # -- noticing ---------------------------------------------------------------------------
    def _rescan(self) -> None:
        for line in folder_problems(self.settings, self.specs, probe_writes=False):
            log.warning("watched folder problem: %s", line)
        with self._lock:
            self._events.clear()
        if self.cfg.use_events and (
            self._event_thread is None or not self._event_thread.is_alive()
        ):
            paths = [str(p) for p in self._inboxes.values() if p.is_dir()]
            if paths:
                self._event_thread = threading.Thread(
                    target=self._listen, args=(paths,), name="teichaku-events", daemon=True
                )
                self._event_thread.start()

    def _listen(self, paths: list[str]) -> None:
        """OS events only wake the scan early and extend the quiet period; they decide nothing."""
        try:
            # Inside the try: if its native extension cannot load here, polling carries on (~5 ms).
            from watchfiles import watch

            for changes in watch(
                *paths,
                stop_event=self._stop,
                debounce=100,
                step=50,
                rust_timeout=500,
                yield_on_timeout=False,
                ignore_permission_denied=True,
                raise_interrupt=False,
            ):
                now = time.monotonic()
                with self._lock:
                    for _change, path in changes:
                        self._events[os.path.normpath(path)] = now
                self._wake.set()
        except Exception:  # events are an accelerator; polling carries on without them
            log.warning("file events unavailable, polling only", exc_info=True)

    def _scan(self, now: float) -> None:
        seen: set[str] = set()
        for spec_id, inbox in sorted(self._inboxes.items()):
            for found in scan_inbox(spec_id, inbox, self.settings.workspace, quiet_seconds=0.0):
                key = os.path.normpath(found.path)
                seen.add(key)
                sig = (found.size, found.mtime_ns)
                with self._lock:
                    c = self._candidates.get(key)
                    if c is None:
                        self._candidates[key] = Candidate(
                            found=found, signature=sig, stable_since=now
                        )
                    elif c.signature != sig and not c.in_flight:
                        c.found, c.signature, c.stable_since = found, sig, now
        with self._lock:
            for key in [
                k for k, c in self._candidates.items() if k not in seen and not c.in_flight
            ]:
                del self._candidates[key]  # moved away (drafted, archived, quarantined, removed)
            horizon = now - 2 * self.quiet
            for key in [k for k, t in self._events.items() if t < horizon]:
                del self._events[key]

    def _dispatch(self, now: float) -> float:
        """Queue every ready candidate; return when the next one could become ready."""
        next_ready = now + self.cfg.poll_interval_seconds
        with self._lock:
            waiting = [(k, c) for k, c in self._candidates.items() if not c.in_flight]
            events = dict(self._events)
        for key, c in waiting:
            quiet_from = max(c.stable_since, events.get(key, 0.0))
            ready_at = max(quiet_from + self.quiet, c.not_before)
            if now < ready_at:
                next_ready = min(next_ready, ready_at)
                continue
            if not _can_open(c.found.link_target or c.found.path):
                with self._lock:
                    c.stable_since = now  # held open by its writer: look again after a quiet period
                next_ready = min(next_ready, now + self.quiet)
                continue
            with self._lock:
                c.in_flight = True
            self._queue.put(c)
        return next_ready

    # -- processing -------------------------------------------------------------------------
    def _work(self, ctx: BatchContext) -> None:
        while True:
            c = self._queue.get()
            if c is None:
                return
            if self._stop.is_set():
                with self._lock:
                    c.in_flight = False  # never claimed: it simply waits in the inbox
                continue
            outcome: DocumentOutcome | None = None
            try:
                outcome = process_document(c.found, ctx)
            except Exception:  # one bad document must not stop the watcher; it is retried later
                log.exception("processing %s failed", c.found.path)
                with self._lock:
                    self.report.errors += 1
            self._after(c, outcome)

    def _after(self, c: Candidate, outcome: DocumentOutcome | None) -> None:
        now = time.monotonic()
        try:
            st = os.stat(c.found.path, follow_symlinks=False)
            still_here, sig = True, (st.st_size, st.st_mtime_ns)
        except OSError:
            still_here, sig = False, c.signature
        with self._lock:
            c.in_flight = False
            if outcome is not None:
                self.report.outcomes.append(outcome)
            if still_here and sig == c.signature:
                # Left in the inbox unchanged (engine outage, busy elsewhere, error): retry later.
                c.not_before = now + self.cfg.retry_seconds
            # Changed meanwhile: the next scan sees the new signature and restarts the quiet period.
        if outcome is not None and self.on_outcome is not None:
            self.on_outcome(outcome)
        self._wake.set()

    def _shutdown(self, ctx: BatchContext) -> None:
        # Queued but unstarted files hold no claim: they stay in the inbox for the next start.
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item.in_flight = False
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + self.cfg.stop_grace_seconds
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in self._threads if t.is_alive()]
        self.report.abandoned = len(alive)
        if alive:
            # Documents still in the engine: give their claims back so another worker need not
            # wait for the lease. Nothing half-written is visible: drafts are written atomically.
            try:
                self.report.released = release_claims(ctx)
            except Exception:
                log.warning("could not release claims; they expire with their lease", exc_info=True)
            ctx.close(wait=False)
        else:
            ctx.close()
