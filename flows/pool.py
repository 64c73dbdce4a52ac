"""Worker processes for the CPU-heavy steps (reading, guarding, rendering).

Python runs one thread at a time per process, so a batch that parses, runs GiNZA and renders
Word files on threads uses one core however many it has, and the model endpoint waits on it
(measured: 480 short reports took 3.6x the endpoint's floor on 2 cores). The documents' threads
stay in the main process, which only waits on the network and writes to the store; the steps
that burn CPU run here, in `workers` processes forked with GiNZA already loaded.

Jobs are handed out by priority, not arrival: preparing a document for the model (priority 0)
goes before rendering a draft whose answer is already in (priority 1), so the endpoint is kept
busy first and drafts are written in the gaps.

A worker that dies (killed, out of memory, a crash in a C parser) breaks the executor and every
job in it; the pool is rebuilt and each of those jobs is tried again alone in a fresh process,
so one bad file cannot fail its neighbours. A job that kills its process twice, the second time
alone, is refused like any unreadable file.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

from core import processes
from core.errors import Refusal
from core.models import RefusalKind

log = logging.getLogger(__name__)

T = TypeVar("T")

_JOBS_PER_WORKER = 1000
PREPARE = 0  # before the model call: on the endpoint's critical path
FINISH = 1  # after it: rendering and writing the draft

# Named, not imported: `teichaku run` starts the server first thing, so that it loads all this
# (and GiNZA) on the other core while this process is still importing and reading its settings.
_STEP_MODULES = ["pypdf", "tasks.extract", "tasks.render.house", "tasks.render.form"]
# The module of the jobs the batch hands out (prepare / render_output), named because the
# document flow imports this one: preloaded, a worker does not import it on its first job (every
# worker did, again after each replacement). It brings only the steps; the document flow itself
# (SQLAlchemy and the store, ~0.35 s of CPU) stays out of the server, which forks the first
# worker that much sooner.
_JOB_MODULE = "flows.cpu_jobs"
# Named, not imported: importing it loads GiNZA, which only the forkserver should do.
_GUARD_PRELOAD = "tasks.guard_preload"


def process_context(*, preload_model: bool = False) -> BaseContext:
    """The process's forkserver context, its preload decided here: the parsers and the renderer,
    and GiNZA (`preload_model`) when a batch's workers will run the NER guard. Whichever caller
    creates the context first decides; a worker whose server lacks the model loads its own."""
    processes.configure(_STEP_MODULES + [_JOB_MODULE] + ([_GUARD_PRELOAD] if preload_model else []))
    return processes.process_context()


def worker_count(settings: Any) -> int:
    """intake.cpu_workers, or one per core, at most 4: beyond that the endpoint sets the pace."""
    configured = settings.intake.cpu_workers
    return max(1, min(os.cpu_count() or 1, 4)) if configured is None else configured


def _uses_ner(settings: Any) -> bool:
    return bool(settings.guard.enabled and settings.guard.ner)


def context_for(settings: Any) -> BaseContext:
    """The context for a batch with these settings: GiNZA is preloaded when workers will use it."""
    return process_context(preload_model=worker_count(settings) > 0 and _uses_ner(settings))


def start_server(settings: Any) -> None:
    """Start the forkserver now, so it loads what it preloads (GiNZA: ~1.5-2.5 s) while the
    caller is still importing and listing files. `teichaku run` calls this first thing, and every
    batch again when it opens (a no-op once the server runs)."""
    context_for(settings)  # registers the preload before the server starts
    forkserver.ensure_running()


# -- inside a worker --------------------------------------------------------------------------
def _init_worker(settings: Any) -> None:
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    if _uses_ner(settings):
        from tasks import guard  # preloaded by the server: already imported here

        guard.warm_up()


def _ready() -> int:
    return os.getpid()


# -- in the main process ----------------------------------------------------------------------
class CpuPool:
    """`call(fn, *args, priority=...)` runs fn in a worker and blocks the calling thread."""

    def __init__(self, settings: Any, workers: int) -> None:
        self.workers = workers
        self._settings = settings
        self._cond = threading.Condition()
        # heap of (priority, ticket, gate): each waiting thread sleeps on its own gate and is
        # woken only when a slot is handed to it. One shared condition woke all ~64 document
        # threads on every job start and end to re-check their turn (measured with py-spy,
        # bench/profile.py: a fifth of the main process's sampled CPU).
        self._waiting: list[tuple[int, int, threading.Event]] = []
        self._tickets = itertools.count()
        self._running = 0
        # One job beyond the worker count stays queued in the executor, so a worker never idles
        # for the round trip between finishing one job and being handed the next.
        self._limit = workers + 1
        self._generation = 0
        self._executor = self._new_executor()

    def _new_executor(self, workers: int | None = None) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=workers or self.workers,
            mp_context=context_for(self._settings),
            initializer=_init_worker,
            initargs=(self._settings,),
            # A worker's spaCy vocabulary keeps every new word it meets (names, figures): a
            # 4,800-document backlog grew the tree by ~100 MB. A fresh fork from the server
            # costs ~0.1 s, so a worker is replaced after this many jobs.
            max_tasks_per_child=_JOBS_PER_WORKER,
        )

    def warm_up(self) -> None:
        """Start every worker now (each loads GiNZA in its initializer) without waiting for them."""
        for _ in range(self.workers):
            self._executor.submit(_ready)

    def call(self, fn: Callable[..., T], *args: Any, priority: int = PREPARE) -> T:
        self._take_slot(priority)
        try:
            return self._run(fn, args)
        finally:
            self._give_slot()

    def _take_slot(self, priority: int) -> None:
        """Return once this thread holds one of the `_limit` slots, in (priority, arrival) order."""
        with self._cond:
            if self._running < self._limit and not self._waiting:
                self._running += 1
                return
            gate = threading.Event()
            heapq.heappush(self._waiting, (priority, next(self._tickets), gate))
        gate.wait()  # the slot was handed over by _give_slot: `_running` already counts it

    def _give_slot(self) -> None:
        """Hand this slot straight to the first in line, or free it when nobody waits."""
        with self._cond:
            if self._waiting:
                heapq.heappop(self._waiting)[2].set()
            else:
                self._running -= 1

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        for _ in range(3):
            with self._cond:
                executor, generation = self._executor, self._generation
            try:
                future = executor.submit(fn, *args)
            except (BrokenProcessPool, RuntimeError):
                # Broken, or shut down by the thread that replaced it a moment ago: the job never
                # ran, so it simply goes to the current pool.
                self._replace(generation)
                continue
            try:
                return future.result()
            except BrokenProcessPool:
                self._replace(generation)
                break
        # Every job in flight saw the pool break, not only the one that broke it: each is tried
        # again alone, in a fresh process, so only the culprit can fail a second time.
        log.warning("a worker process died; retrying its jobs one by one in fresh processes")
        with self._new_executor(workers=1) as solo:
            try:
                return solo.submit(fn, *args).result()
            except BrokenProcessPool as e:
                raise Refusal(
                    RefusalKind.TIMEOUT,
                    f"the process reading this file died twice, the second time alone ({e}); "
                    "likely out of memory or a crash in a parser",
                ) from None

    def _replace(self, generation: int) -> None:
        """Rebuild a broken executor once, however many jobs saw it break."""
        with self._cond:
            if generation != self._generation:
                return
            broken = self._executor
            self._executor = self._new_executor()
            self._generation += 1
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self, *, wait: bool = True) -> None:
        with self._cond:
            executor = self._executor
        executor.shutdown(wait=wait, cancel_futures=True)
