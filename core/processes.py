"""The one forkserver context of this process, for PDF reader children and the worker pool.

Its caller is multi-threaded, so no plain fork. Children fork from a server that has already
imported what `configure` named (the parsers, the renderer and, for a batch with workers and the
NER guard on, GiNZA), so a child starts in milliseconds. The layer that composes the batch
(flows/pool.py) decides what is preloaded; the steps only ask for the context. Whoever asks first
fixes the preload, which is why flows configure it before any step runs.
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.context import BaseContext

_context: BaseContext | None = None
_preload: list[str] = ["pypdf"]
_lock = threading.Lock()


def configure(preload: list[str]) -> None:
    """Name the modules the forkserver imports before it forks; no effect once a context exists."""
    global _preload
    with _lock:
        if _context is None:
            _preload = list(preload)


def process_context() -> BaseContext:
    """The forkserver context, created on first use with the configured preload."""
    global _context
    with _lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(_preload)
            _context = ctx
        return _context
