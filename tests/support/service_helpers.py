"""Helpers for the tests that drive teichaku as separate processes (watch, run, serve)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# The entry point as installed (`-m teichaku.cli` would register commands on a second `app`).
TEICHAKU = [sys.executable, "-c", "from teichaku.cli import main; main()"]
SALES_INBOX = Path("営業部/商談議事録/受付")
SALES_OUTBOX = Path("営業部/商談議事録/下書き")
SALES_ARCHIVE = Path("営業部/商談議事録/処理済み")
SALES_QUARANTINE = Path("営業部/商談議事録/隔離")


def minutes_text(n: int, marker: str = "") -> str:
    """A short, distinct meeting note (Japanese, fictional)."""
    return (
        f"第{n}回 商談メモ {marker}\n"
        f"株式会社サンプル{n}との打ち合わせで、見積もりの提出を決定した。\n"
        f"担当は営業一課の田中、期限は来週金曜日。次回は導入時期を確認する。{marker}\n"
    )


def service_env(**extra: str) -> dict[str, str]:
    """The test environment for a child process, with each workspace's own Prefect home (as in
    production) instead of the shared test home set by conftest."""
    env = dict(os.environ)
    for key in ("PREFECT_HOME", "PREFECT_API_URL"):
        env.pop(key, None)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


def init_workspace(path: Path) -> Path:
    subprocess.run(
        [*TEICHAKU, "init", str(path)], check=True, capture_output=True, env=service_env()
    )
    return path


def start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A teichaku process in its own process group, so the test can signal (or kill) all of it."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            [*TEICHAKU, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def stop_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """End a process started by `start` and everything it started (e.g. a Prefect server)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def wait_for(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> float | None:
    """Seconds until `check()` held, or None after `timeout`."""
    start_t = time.monotonic()
    while time.monotonic() - start_t < timeout:
        if check():
            return time.monotonic() - start_t
        time.sleep(interval)
    return None


def visible_partial_files(folder: Path) -> list[Path]:
    """Temp or half-written names a person could see (or open) in a folder."""
    bad = []
    for p in folder.rglob("*"):
        n = p.name
        if p.is_file() and (
            n.endswith((".tmp", ".part")) or n.startswith(".") or p.stat().st_size == 0
        ):
            bad.append(p)
    return bad


_SERVER: list[object] = []
# Kept between test sessions (git-ignored): a fresh Prefect database costs ~15 s of migrations.
SERVER_HOME = Path(__file__).resolve().parents[2] / ".prefect" / "test-server"


def shared_prefect_server():  # -> deployments.local_server.LocalPrefectServer
    """One real `prefect server` on loopback for the whole test session, stopped at exit."""
    import atexit

    from deployments.local_server import LocalPrefectServer

    if not _SERVER:
        server = LocalPrefectServer(SERVER_HOME, env=service_env())
        server.start()
        atexit.register(server.stop)
        _SERVER.append(server)
    return _SERVER[0]
