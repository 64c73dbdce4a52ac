"""Several workers on one share with one PostgreSQL store: exactly once, and crash safe.

Real `teichaku run` processes, the real openai client against the local fake endpoint, real
files, real PostgreSQL, and a real `kill -9`.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
from pathlib import Path

import pytest

from core.store import Store
from tests.conftest import PG_URL
from tests.support.builders import make_text
from tests.support.fake_endpoint import FakeEndpoint
from tests.support.service_helpers import (
    SALES_ARCHIVE,
    SALES_INBOX,
    SALES_OUTBOX,
    TEICHAKU,
    init_workspace,
    minutes_text,
    service_env,
    shared_prefect_server,
    start,
    stop_group,
    visible_partial_files,
    wait_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def prefect_api() -> str:
    # Workers of a multi-machine setup talk to one Prefect server (README "Running as a
    # service"); it also spares each process the in-process server's start-up.
    if not PG_URL:
        pytest.skip("TEICHAKU_TEST_PG_URL is not set (run via .ci/run, which starts PostgreSQL)")
    return shared_prefect_server().api_url


def _drop(ws: Path, n: int) -> dict[str, str]:
    """n distinct documents in the sales inbox; returns name -> sha256 of the bytes."""
    hashes = {}
    for i in range(n):
        p = make_text(ws / SALES_INBOX / f"商談{i:02d}.txt", minutes_text(i, f"DOC-{i:02d}"))
        hashes[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    return hashes


def _env(pg_url: str, ep: FakeEndpoint, api: str) -> dict[str, str]:
    return service_env(
        PREFECT_API_URL=api,
        TEICHAKU_DATABASE_URL=pg_url,
        TEICHAKU_LLM__ENGINE="openai",
        TEICHAKU_LLM__CONCURRENCY="2",
        OPENAI_BASE_URL=ep.base_url,
        OPENAI_API_KEY="test-key-not-secret",
    )


def _drafts(ws: Path) -> list[Path]:
    return sorted((ws / SALES_OUTBOX).glob("*.draft.docx"))


def _check_exactly_once(ws: Path, pg_url: str, hashes: dict[str, str]) -> None:
    n = len(hashes)
    drafts = _drafts(ws)
    assert len(drafts) == n, [d.name for d in drafts]
    assert len(list((ws / SALES_OUTBOX).glob("*.draft.md"))) == n
    assert not list((ws / SALES_INBOX).iterdir()), "every original left the inbox"
    archived = {
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (ws / SALES_ARCHIVE).rglob("*")
        if p.is_file()
    }
    assert archived == set(hashes.values()), "no original lost, none altered"
    assert visible_partial_files(ws / SALES_OUTBOX) == []
    # Each draft is whole: the Markdown names its own source document.
    for i in range(n):
        md = (ws / SALES_OUTBOX / f"商談{i:02d}.draft.md").read_text(encoding="utf-8")
        assert f"商談{i:02d}" in md
    store = Store(pg_url)
    try:
        docs = store.documents()
    finally:
        store.dispose()
    assert sorted(d.content_hash for d in docs) == sorted(hashes.values())
    assert all(d.status == "drafted" for d in docs)


def test_two_runs_at_once_draft_each_document_once(
    tmp_path: Path, pg_url: str, prefect_api: str
) -> None:
    ws = init_workspace(tmp_path / "share")
    hashes = _drop(ws, 12)
    with FakeEndpoint(latency=0.3) as ep:
        env = _env(pg_url, ep, prefect_api)
        procs = [
            start(["run", "--workspace", str(ws)], tmp_path / f"run{i}.log", env) for i in (1, 2)
        ]
        try:
            for p in procs:
                p.wait(timeout=150)
        finally:
            for p in procs:
                stop_group(p)
        logs = [(tmp_path / f"run{i}.log").read_text(errors="replace") for i in (1, 2)]
        assert [p.returncode for p in procs] == [0, 0], logs
        calls = ep.stats.count
    _check_exactly_once(ws, pg_url, hashes)
    # One model call per document in all: no document was sent by both workers.
    assert calls == len(hashes), logs


def test_kill_9_mid_batch_then_run_again(tmp_path: Path, pg_url: str, prefect_api: str) -> None:
    ws = init_workspace(tmp_path / "share")
    hashes = _drop(ws, 12)
    with FakeEndpoint(latency=0.5) as ep:
        env = _env(pg_url, ep, prefect_api)
        first = start(["run", "--workspace", str(ws)], tmp_path / "killed.log", env)
        try:
            # Kill once some drafts exist and others are still with the model.
            got = wait_for(lambda: len(_drafts(ws)) >= 3, timeout=120)
            assert got is not None, (tmp_path / "killed.log").read_text(errors="replace")
        finally:
            stop_group(first, signal.SIGKILL)
        assert first.returncode == -signal.SIGKILL
        assert len(_drafts(ws)) < len(hashes), "the kill came mid-batch"
        assert visible_partial_files(ws / SALES_OUTBOX) == []

        second = subprocess.run(
            [*TEICHAKU, "run", "--workspace", str(ws)],
            env=env,
            capture_output=True,
            timeout=150,
        )
        assert second.returncode == 0, second.stdout.decode(errors="replace")[-3000:]
    _check_exactly_once(ws, pg_url, hashes)
