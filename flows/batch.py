"""The intake batch, composed once: scan feedback, discover, process every document, summarise.

Two runners share this composition and differ only in how a document is submitted:
- `flows/intake.py` (Prefect): every document is a Prefect task, visible in the UI;
- `run_direct` below: the same plain functions on a thread pool, without importing Prefect.

This module must not import Prefect: the direct runner exists because Prefect's import (~3 s)
and its temporary in-process server (~13 s start and stop) cost more than a whole batch of
short documents against a fast endpoint.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from core.errors import EngineUnavailable
from core.models import BatchSummary, DiscoveredFile, DocumentOutcome
from core.settings import Settings
from core.specs import load_specs
from core.store import utcnow
from flows.document import BatchContext, inboxes, open_batch, process_document
from tasks.discover import discover
from tasks.feedback import feedback_tally, scan_feedback

# Listeners for per-document progress (the CLI's progress bar). Module-level, because flow
# parameters must stay serialisable for deployments; flows/intake.py re-exports these lists.
PROGRESS: list[Callable[[DocumentOutcome], None]] = []
DISCOVERED: list[Callable[[int], None]] = []


class Pending(Protocol):
    """What a submit returns: concurrent.futures.Future and PrefectFuture both fit."""

    def result(self) -> DocumentOutcome: ...


@dataclass(frozen=True)
class Steps:
    """How each step runs: plain calls, or Prefect tasks (which add names, tags and retries)."""

    scan_feedback: Callable[..., Any]
    discover: Callable[[BatchContext], list[DiscoveredFile]]
    submit: Callable[[DiscoveredFile, BatchContext], Pending]
    wait: Callable[[list[Pending]], Any]


def discover_ready(ctx: BatchContext) -> list[DiscoveredFile]:
    """List ready files in every spec's inbox."""
    return discover(
        inboxes(ctx), ctx.settings.workspace, quiet_seconds=ctx.settings.intake.quiet_seconds
    )


def collect(
    futures: Sequence[Pending], found: Sequence[DiscoveredFile]
) -> tuple[list[DocumentOutcome], str | None]:
    """Outcomes in discovery order; a permanent engine failure (quota) stops the batch, not the others."""
    outcomes: list[DocumentOutcome] = []
    stopped: str | None = None
    for fut, f in zip(futures, found, strict=True):
        try:
            outcomes.append(fut.result())
        except EngineUnavailable as e:
            stopped = str(e)
            outcomes.append(
                DocumentOutcome(spec_id=f.spec_id, name=f.name_nfc, status="pending", reason=str(e))
            )
    return outcomes, stopped


def run_batch(settings: Settings, steps: Steps) -> BatchSummary:
    """Process every ready document in the workspace once (the body of both runners)."""
    started = time.monotonic()
    ctx = open_batch(settings, load_specs(settings.workspace))
    ctx.on_done = lambda o: [cb(o) for cb in PROGRESS]
    try:
        # 採用/不採用 moves since the last run count before this run's new drafts.
        since = utcnow()
        steps.scan_feedback(settings, list(ctx.specs.values()), ctx.store)
        tally = feedback_tally(ctx.store, since)
        found = steps.discover(ctx)
        ctx.known = ctx.store.known_files()
        for cb in DISCOVERED:
            cb(len(found))
        futures = [steps.submit(f, ctx) for f in found]
        steps.wait(futures)
        outcomes, stopped = collect(futures, found)
    finally:
        ctx.close()
    return BatchSummary(
        workspace=str(settings.workspace),
        engine=getattr(ctx.engine, "name", settings.engine),
        model=getattr(ctx.engine, "model", settings.llm.model),
        outcomes=outcomes,
        stopped_reason=stopped,
        seconds=time.monotonic() - started,
        feedback=tally,
    )


def pool_size(settings: Settings) -> int:
    """Document threads: enough that `llm.concurrency` requests stay in flight while the others
    wait on the CPU workers. The workers serve preparing before rendering, so with too few
    threads (4 per slot) most end up parked on renders, nothing is being prepared, and the
    endpoint idles for a moment (measured: in-flight fell to 5.7 of 8). Threads here only wait."""
    return max(8, settings.llm.concurrency * 8)


class DocumentThreads:
    """The threads documents run on, in both runners (they wait; the CPU work is in workers).
    Remembers each spec's futures, for the flow's per-spec report."""

    def __init__(self, settings: Settings) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=pool_size(settings), thread_name_prefix="teichaku-doc"
        )
        self.by_spec: dict[str, list[Future[DocumentOutcome]]] = defaultdict(list)

    def submit(self, found: DiscoveredFile, ctx: BatchContext) -> Future[DocumentOutcome]:
        future = self._pool.submit(process_document, found, ctx)
        self.by_spec[found.spec_id].append(future)
        return future

    def __enter__(self) -> DocumentThreads:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)


def run_direct(settings: Settings) -> BatchSummary:
    """The batch on a plain thread pool: same steps and outcomes as the Prefect flow, no Prefect."""
    with DocumentThreads(settings) as threads:
        steps = Steps(
            scan_feedback=scan_feedback,
            discover=discover_ready,
            submit=threads.submit,
            wait=lambda futures: [f.exception() for f in futures],
        )
        return run_batch(settings, steps)
