"""Run one reader's work in a child process with a time bound and a memory bound.

The same pattern as the PDF reader's child (pdf.py), for any reader: the child forks from the
forkserver (`core.processes`), limits its own address space to what it has plus `memory_mb`
(RLIMIT_AS), runs `work(*args)` and sends its tagged tuple back; the parent waits at most
`timeout` seconds and kills it after. A hostile file can then only cost that much time and
memory, and never the worker or the batch.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from core.errors import Refusal
from core.models import RefusalKind
from core.processes import process_context
from tasks.extract.base import MB


def address_space() -> int:
    """Bytes this process has mapped now. A reader forks from a server that may hold GiNZA
    (~850 MB mapped, shared, not used here); the bound is on what reading adds to that."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _send_quietly(conn: Connection, message: tuple[Any, ...]) -> None:
    # Out of memory even the report may fail; the parent then sees EOF and says so.
    with contextlib.suppress(Exception):
        conn.send(message)


def _child(
    work: Callable[..., tuple[Any, ...]], args: tuple[Any, ...], memory_mb: int, conn: Connection
) -> None:
    """Runs in the child: bound the address space, do the work, send one tagged tuple."""
    try:
        limit = address_space() + memory_mb * MB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        conn.send(work(*args))
    except MemoryError:
        _send_quietly(conn, ("memory", f"MemoryError under RLIMIT_AS={memory_mb} MB"))
    except BaseException as e:
        _send_quietly(conn, ("error", f"{type(e).__name__}: {e}"[:2000]))
    finally:
        conn.close()


def run_bounded(
    work: Callable[..., tuple[Any, ...]],
    args: tuple[Any, ...],
    *,
    timeout: float,
    memory_mb: int,
    what: str,
    setting_names: tuple[str, str] | None = None,
    reuse: bool = False,
) -> tuple[Any, ...]:
    """`work(*args)` in a bounded child; its tuple, or Refusal(TIMEOUT) when it ran out.
    With `reuse`, the child is kept for the next call (see `_run_reused`).

    `work` must be a module-level function (the forkserver pickles it by name). A tuple
    starting with "memory" or "error" means the child caught that itself. `setting_names`
    (time, memory) name the settings the bounds came from in the refusal's detail.
    """
    if reuse:
        return _run_reused(work, args, timeout, memory_mb, what, setting_names)
    time_bound, memory_bound = _bounds(timeout, memory_mb, setting_names)
    ctx = process_context()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(  # type: ignore[attr-defined]
        target=_child, args=(work, args, memory_mb, sender), name=f"teichaku-{what}"
    )
    started = time.monotonic()
    try:
        proc.start()
    finally:
        sender.close()  # so recv() sees EOF if the child dies without sending
    try:
        if not receiver.poll(timeout):
            raise Refusal(RefusalKind.TIMEOUT, f"{what} did not finish within {time_bound}")
        try:
            return receiver.recv()
        except EOFError:
            proc.join(5)
            raise _died(what, proc.exitcode, started, memory_bound) from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        receiver.close()
        if proc.exitcode is not None:
            proc.close()


def _bounds(
    timeout: float, memory_mb: int, setting_names: tuple[str, str] | None
) -> tuple[str, str]:
    if setting_names:
        return f"{setting_names[0]}={timeout}", f"{setting_names[1]}={memory_mb}"
    return f"{timeout:.0f} s", f"of {memory_mb} MB"


def _died(what: str, exitcode: int | None, started: float, memory_bound: str) -> Refusal:
    return Refusal(
        RefusalKind.TIMEOUT,
        f"{what} process exited (code {exitcode}) without a result after "
        f"{time.monotonic() - started:.1f}s: likely killed at its memory bound "
        f"{memory_bound} (or it failed to start; see stderr)",
    )


# -- a bounded child that reads file after file ------------------------------------------------
# A child forked per file costs ~55 ms of CPU before its work starts (fork from a GiNZA-sized
# server, the child's start-up), 5x what pypdf spends on a page or two; a memo batch is one file
# in four a PDF. `run_bounded(reuse=True)` keeps one child per process and `what`, under the
# same two bounds: the address space it may add is fixed when it starts, a file that runs out
# of time kills it (the next file gets a fresh one), and a child that ran out of memory, raised,
# or grew past half its bound is replaced after answering. While it is busy with another thread's file, a
# caller gets a child of its own (run_bounded), so one slow file never queues the others.
_RETIRE_AFTER = 500  # files; a long-lived parser's heap is not trusted forever


def _serve(memory_mb: int, conn: Connection) -> None:
    """Runs in the reused child: answer (work, args) requests until the parent hangs up."""
    base = address_space()
    limit = base + memory_mb * MB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            work, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result = work(*args)
        except MemoryError:
            _send_quietly(conn, (("memory", f"MemoryError under RLIMIT_AS={memory_mb} MB"), True))
            return
        except BaseException as e:
            _send_quietly(conn, (("error", f"{type(e).__name__}: {e}"[:2000]), True))
            return
        grown = address_space() - base > memory_mb * MB // 2
        try:
            conn.send((result, grown))
        except Exception:
            return


class _Child:
    def __init__(self, memory_mb: int, what: str) -> None:
        ctx = process_context()
        self.conn, child_end = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(  # type: ignore[attr-defined]
            target=_serve, args=(memory_mb, child_end), name=f"teichaku-{what}", daemon=True
        )
        try:
            self.proc.start()
        finally:
            child_end.close()
        self.pid = os.getpid()  # the process that owns it (a fork does not)
        self.files = 0

    def close(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()


_children: dict[tuple[str, int], _Child] = {}
_busy: dict[tuple[str, int], threading.Lock] = {}
_children_lock = threading.Lock()


def _child_for(key: tuple[str, int], memory_mb: int, what: str) -> _Child:
    """This process's live child for `key`, started when there is none (called holding its
    busy lock)."""
    child = _children.get(key)
    if child is not None and child.pid != os.getpid():
        child = None  # inherited through a fork: the parent's, not ours to use or stop
    elif child is not None and not child.proc.is_alive():
        child.close()  # gone (killed from outside): its pipe is closed with it
        child = None
    if child is None:
        child = _children[key] = _Child(memory_mb, what)
    return child


def _run_reused(
    work: Callable[..., tuple[Any, ...]],
    args: tuple[Any, ...],
    timeout: float,
    memory_mb: int,
    what: str,
    setting_names: tuple[str, str] | None,
) -> tuple[Any, ...]:
    """`run_bounded(..., reuse=True)`: the same contract, in a child kept for the next file."""
    key = (what, memory_mb)
    with _children_lock:
        busy = _busy.setdefault(key, threading.Lock())
    if not busy.acquire(blocking=False):
        return run_bounded(
            work, args, timeout=timeout, memory_mb=memory_mb, what=what, setting_names=setting_names
        )
    try:
        time_bound, memory_bound = _bounds(timeout, memory_mb, setting_names)
        child = _child_for(key, memory_mb, what)
        started = time.monotonic()
        keep = False
        try:
            child.conn.send((work, args))
            if not child.conn.poll(timeout):
                raise Refusal(RefusalKind.TIMEOUT, f"{what} did not finish within {time_bound}")
            try:
                result, grown = child.conn.recv()
            except EOFError:
                child.proc.join(5)
                raise _died(what, child.proc.exitcode, started, memory_bound) from None
            child.files += 1
            keep = not grown and result[:1] not in (("memory",), ("error",))
            keep = keep and child.files < _RETIRE_AFTER
            return result
        finally:
            if not keep:
                child.close()
                _children.pop(key, None)
    finally:
        busy.release()
