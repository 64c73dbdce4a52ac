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
) -> tuple[Any, ...]:
    """`work(*args)` in a bounded child; its tuple, or Refusal(TIMEOUT) when it ran out.

    `work` must be a module-level function (the forkserver pickles it by name). A tuple
    starting with "memory" or "error" means the child caught that itself. `setting_names`
    (time, memory) name the settings the bounds came from in the refusal's detail.
    """
    if setting_names:
        time_bound = f"{setting_names[0]}={timeout}"
        memory_bound = f"{setting_names[1]}={memory_mb}"
    else:
        time_bound, memory_bound = f"{timeout:.0f} s", f"of {memory_mb} MB"
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
            raise Refusal(
                RefusalKind.TIMEOUT,
                f"{what} process exited (code {proc.exitcode}) without a result after "
                f"{time.monotonic() - started:.1f}s: likely killed at its memory bound "
                f"{memory_bound} (or it failed to start; see stderr)",
            ) from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        receiver.close()
        if proc.exitcode is not None:
            proc.close()
