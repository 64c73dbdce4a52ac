"""The reused bounded child: file after file in one process, replaced after a timeout, a memory
bound, an error or a fork; a second caller while it is busy gets a child of its own."""

from __future__ import annotations

import os
import threading
import time

import pytest

from core.errors import Refusal
from tasks.extract import bounded
from tasks.extract.bounded import run_bounded


def pid_of_child(_: int) -> tuple[str, int]:
    return ("ok", os.getpid())


def sleep_then_pid(seconds: float) -> tuple[str, int]:
    time.sleep(seconds)
    return ("ok", os.getpid())


def allocate(mb: int) -> tuple[str, int]:
    block = bytearray(mb * 1024 * 1024)
    return ("ok", len(block))


def fail(_: int) -> tuple[str, int]:
    raise ValueError("broken parser")


def _pid(work=pid_of_child, arg=0, **kw) -> int:
    kw = {"timeout": 20, "memory_mb": 200, "what": "test-reader", "reuse": True, **kw}
    result = run_bounded(work, (arg,), **kw)
    assert result[0] == "ok", result
    return result[1]


def test_one_child_reads_file_after_file() -> None:
    first = _pid()
    assert first != os.getpid()
    assert [_pid() for _ in range(5)] == [first] * 5


def test_a_timeout_kills_the_child_and_the_next_file_gets_a_fresh_one() -> None:
    before = _pid()
    with pytest.raises(Refusal) as e:
        run_bounded(
            sleep_then_pid, (30,), timeout=0.5, memory_mb=200, what="test-reader", reuse=True
        )
    assert "did not finish" in e.value.detail
    after = _pid()
    assert after != before


def test_out_of_memory_and_errors_replace_the_child() -> None:
    before = _pid()
    result = run_bounded(
        allocate, (400,), timeout=20, memory_mb=200, what="test-reader", reuse=True
    )
    assert result[0] == "memory"
    second = _pid()
    assert second != before
    assert (
        run_bounded(fail, (0,), timeout=20, memory_mb=200, what="test-reader", reuse=True)[0]
        == "error"
    )
    assert _pid() != second


def test_a_busy_child_does_not_queue_another_thread() -> None:
    reused = _pid()
    seen: list[int] = []
    slow = threading.Thread(target=lambda: seen.append(_pid(sleep_then_pid, 1.5)))
    slow.start()
    time.sleep(0.5)  # the reused child is busy with the slow file now
    started = time.monotonic()
    other = _pid()
    assert time.monotonic() - started < 1.0
    slow.join()
    assert seen == [reused] and other != reused


def test_a_child_inherited_through_a_fork_is_not_used() -> None:
    _pid()
    key = ("test-reader", 200)
    child = bounded._children[key]
    child.pid = -1  # what a forked copy of this process would see
    assert _pid() != child.proc.pid
