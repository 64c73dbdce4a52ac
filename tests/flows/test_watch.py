"""`teichaku watch` as a real process on real folders, and its start-up safety checks."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import check_store_location, filesystem_type, load_settings
from core.specs import load_specs
from core.store import Store
from flows.watch import folder_problems
from tests.support.builders import make_docx, make_text
from tests.support.fake_endpoint import FakeEndpoint
from tests.support.service_helpers import (
    SALES_ARCHIVE,
    SALES_INBOX,
    SALES_OUTBOX,
    SALES_QUARANTINE,
    init_workspace,
    minutes_text,
    service_env,
    start,
    stop_group,
    visible_partial_files,
    wait_for,
)


def _watch(ws: Path, log: Path, ep: FakeEndpoint, **extra: str):
    env = service_env(
        TEICHAKU_LLM__ENGINE="openai",
        OPENAI_BASE_URL=ep.base_url,
        OPENAI_API_KEY="test-key-not-secret",
        **extra,
    )
    proc = start(["watch", "--workspace", str(ws)], log, env)
    # Ready once it says so (imports and the store take a moment on a busy machine).
    up = wait_for(
        lambda: proc.poll() is not None or "watching" in log.read_text(errors="replace"), timeout=60
    )
    assert up is not None and proc.poll() is None, log.read_text(errors="replace")
    return proc


def _sigterm_and_time(proc) -> float:
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    finally:
        stop_group(proc)  # only acts if it did not stop by itself
    return time.monotonic() - t0


@pytest.mark.slow
def test_dropped_file_is_drafted_within_10_s_and_sigterm_stops(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "share")
    log = tmp_path / "watch.log"
    with FakeEndpoint(latency=0.05) as ep:
        proc = _watch(ws, log, ep)
        try:
            time.sleep(1.0)  # let it settle into its loop, as a long-running service would be
            make_text(ws / SALES_INBOX / "週次商談.txt", minutes_text(1, "DROP-1"))
            took = wait_for(
                lambda: (ws / SALES_OUTBOX / "週次商談.draft.docx").exists(), timeout=30
            )
            assert took is not None, log.read_text(errors="replace")
            assert took < 10, f"draft after {took:.1f} s"
            assert wait_for((ws / SALES_ARCHIVE / "週次商談.txt").exists, timeout=10) is not None
        finally:
            stopped_in = _sigterm_and_time(proc)
    assert proc.returncode == 0, log.read_text(errors="replace")
    assert stopped_in < 20
    assert "stopped" in log.read_text(errors="replace")


@pytest.mark.slow
def test_file_written_in_pieces_over_8_s_is_read_once_complete(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "share")
    # A real .docx: read half-written it would be a corrupt zip and land in quarantine.
    paragraphs = [
        f"第{i}段落: 株式会社サンプルとの商談で見積もりの提出を決定した。担当は田中。"
        for i in range(40)
    ]
    full = make_docx(
        tmp_path / "src.docx", [*paragraphs, "最後の段落です。以上、結びの確認事項。"]
    ).read_bytes()
    pieces = 9
    size = -(-len(full) // pieces)
    log = tmp_path / "watch.log"
    with FakeEndpoint(latency=0.05) as ep:
        proc = _watch(ws, log, ep)
        try:
            target = ws / SALES_INBOX / "ゆっくり届く議事録.docx"
            with open(target, "wb") as f:
                for i in range(pieces):  # ~8 s, one chunk a second, like a slow network copy
                    f.write(full[i * size : (i + 1) * size])
                    f.flush()
                    if i < pieces - 1:
                        time.sleep(1.0)
            finished = time.monotonic()
            draft = ws / SALES_OUTBOX / "ゆっくり届く議事録.draft.md"
            assert wait_for(draft.exists, timeout=30) is not None, log.read_text(errors="replace")
            assert time.monotonic() - finished < 10
            time.sleep(3)  # a second reading, if any, would show up here
        finally:
            _sigterm_and_time(proc)
        requests = ep.requests
    assert len(requests) == 1, "read (and sent) once"
    assert "以上、結びの確認事項" in str(requests[0]), "read only once complete"
    assert not list((ws / SALES_QUARANTINE).iterdir())
    assert (ws / SALES_ARCHIVE / "ゆっくり届く議事録.docx").read_bytes() == full


@pytest.mark.slow
def test_sigterm_during_a_hung_model_call_stops_and_releases(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "share")
    log = tmp_path / "watch.log"
    with FakeEndpoint(faults=["hang"], hang_seconds=60) as ep:
        proc = _watch(ws, log, ep, TEICHAKU_WATCH__STOP_GRACE_SECONDS="3")
        try:
            make_text(ws / SALES_INBOX / "止まる.txt", minutes_text(2, "HANG"))
            assert wait_for(lambda: ep.stats.in_flight == 1, timeout=30), log.read_text(
                errors="replace"
            )
        finally:
            stopped_in = _sigterm_and_time(proc)
    assert stopped_in < 20
    assert (ws / SALES_INBOX / "止まる.txt").exists(), "the original stays for the next run"
    assert visible_partial_files(ws / SALES_OUTBOX) == []
    settings = load_settings(ws)
    store = Store(settings.database_url or "")
    try:
        (doc,) = store.documents()
    finally:
        store.dispose()
    # The claim was released: any worker, on any machine, may take it over now.
    assert doc.status == "claimed" and doc.lease_until is not None
    from core.store import utcnow

    assert doc.lease_until <= utcnow()


def test_sqlite_on_a_network_filesystem_is_refused(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "share")
    settings = load_settings(ws)
    check_store_location(settings)  # the real /proc/mounts: a local disk here
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/vda / ext4 rw 0 0\n"
        f"//nas/share {tmp_path} cifs rw,vers=3.0 0 0\n"
        "tmpfs /dev/shm tmpfs rw 0 0\n",
        encoding="utf-8",
    )
    assert filesystem_type(ws / ".teichaku" / "teichaku.db", mounts) == "cifs"
    with pytest.raises(ConfigError, match="PostgreSQL"):
        check_store_location(settings, mounts)
    # PostgreSQL is fine wherever the workspace lives.
    pg = load_settings(ws, database_url="postgresql+psycopg://u@db.example.local/teichaku")
    check_store_location(pg, mounts)


def test_folder_problems_name_missing_folders(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "share")
    settings = load_settings(ws)
    specs = load_specs(ws)
    assert folder_problems(settings, specs) == []
    (ws / SALES_QUARANTINE).rmdir()
    problems = folder_problems(settings, specs)
    assert len(problems) == 1 and "隔離フォルダがありません" in problems[0]
