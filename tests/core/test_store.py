from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, update

from core.models import ModelCall
from core.store import MIGRATIONS_DIR, SCHEMA_HEAD, Document, Store, utcnow, worker_identity


def _claim(store: Store, worker: str, h: str = "h1", lease: float = 600.0):
    return store.claim(
        spec_id="sales/meeting_minutes",
        spec_version=1,
        department="sales",
        content_hash=h,
        name="議事録.docx",
        rel_path="議事録.docx",
        size=10,
        worker=worker,
        lease_seconds=lease,
    )


def test_migrations_create_tables_and_are_idempotent(store_url: str) -> None:
    with Store(store_url) as store:
        store.migrate()
        with Store(store_url):  # a second open of a migrated store migrates nothing
            pass
        names = set(inspect(store.engine).get_table_names())
        assert {"documents", "model_calls", "alembic_version"} <= names


def test_second_claim_of_same_content_is_busy_then_done(store_url: str) -> None:
    with Store(store_url) as store:
        a, b = worker_identity(), worker_identity()
        first = _claim(store, a)
        assert first.outcome == "claimed"
        assert _claim(store, b).outcome == "busy"
        store.mark_drafted(
            first.document_id,
            draft_md=Path("x.md"),
            draft_docx=Path("x.docx"),
            engine="offline",
            model="m",
            chunks=1,
            minutes_saved_est=20,
        )
        again = _claim(store, b)
        assert again.outcome == "done"
        assert again.document_id == first.document_id


def test_expired_lease_is_taken_over(store_url: str) -> None:
    with Store(store_url) as store:
        remote = "other-host:123:abcd"  # another machine: only the lease can tell it is dead
        first = _claim(store, remote)
        assert _claim(store, worker_identity()).outcome == "busy"
        with store.session() as s:
            s.execute(
                update(Document)
                .where(Document.id == first.document_id)
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )
        taken = _claim(store, worker_identity())
        assert taken.outcome == "claimed"
        assert store.documents()[0].attempts == 2


def test_claim_of_dead_local_process_is_taken_over_at_once(store_url: str) -> None:
    with Store(store_url) as store:
        proc = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
        )
        dead_pid = int(proc.stdout)
        first = _claim(store, f"{socket.gethostname()}:{dead_pid}:dead")
        assert first.outcome == "claimed"
        taken = _claim(store, worker_identity())
        assert taken.outcome == "claimed"


def test_racing_claims_have_exactly_one_winner(store_url: str) -> None:
    with Store(store_url) as store:
        results: list[str] = []
        barrier = threading.Barrier(8)

        def go() -> None:
            barrier.wait()
            results.append(_claim(store, worker_identity(), h="race").outcome)

        threads = [threading.Thread(target=go) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count("claimed") == 1
        assert results.count("busy") == 7


def test_model_calls_recorded_without_content(store_url: str) -> None:
    with Store(store_url) as store:
        c = _claim(store, worker_identity())
        store.record_calls(
            c.document_id,
            "sales/meeting_minutes",
            1,
            [
                ModelCall(
                    engine="openai",
                    model="m",
                    endpoint_host="127.0.0.1",
                    sent_sha256="ab" * 32,
                    masked_counts={"メール": 2},
                    prompt_tokens=100,
                )
            ],
        )
        rows = store.model_calls()
        assert len(rows) == 1
        assert rows[0].masked_counts == {"メール": 2}
        assert rows[0].prompt_tokens == 100


def test_pid_in_identity() -> None:
    assert f":{os.getpid()}:" in worker_identity()


def test_schema_head_constant_matches_the_migrations(store_url: str) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_HEAD
    with Store(store_url) as store:
        assert store._schema_revision() == SCHEMA_HEAD


def test_store_is_released_when_the_block_fails(store_url: str) -> None:
    """`with Store(...)` closes the pooled connections however the block ends."""
    with pytest.raises(RuntimeError), Store(store_url) as store:
        store.documents()
        pool = store.engine.pool
        assert pool.checkedin() == 1  # the connection went back to the pool, still open
        raise RuntimeError("boom")
    assert pool.checkedin() == 0 and store.engine.pool is not pool
