"""The worker processes: a real batch through them, dying workers, refusals and priorities."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import tasks.guard as guard
from core.errors import REASONS_JA, Refusal
from core.models import RefusalKind
from core.settings import load_settings
from core.specs import load_specs
from core.workspace import folders_for, init_workspace
from flows.document import inboxes, open_batch, prepare, process_document
from flows.pool import FINISH, PREPARE, CpuPool
from tasks.discover import discover
from tests.support import builders

SPEC = "sales/meeting_minutes"
LINES = [
    "商談議事録（北斗精機 定例）",
    "出席者：株式会社北斗精機 佐々木健一様、当社 営業部 森下",
    "連絡先：sasaki.k@hokuto-seiki.example.jp 090-1234-5678",
    "【決定事項】見積を12月5日までに提出する。",
    "【宿題】森下さんが納期を社内調整する。",
]


# -- jobs run in the workers (module level, so the workers can import them) -------------------
def pid_job() -> int:
    return os.getpid()


def die_once(marker: str) -> int:
    """Kill this worker the first time (as the OOM killer would); succeed when retried."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(9)
    return os.getpid()


def die_always() -> int:
    os._exit(9)


def sleep_job(seconds: float) -> float:
    time.sleep(seconds)
    return time.monotonic()


@pytest.fixture
def settings(tmp_path: Path):
    s = load_settings(
        tmp_path / "ws", llm={"engine": "offline"}, intake={"cpu_workers": 2}, guard={"ner": True}
    )
    init_workspace(s.workspace, load_specs(s.workspace), s)
    return s


def _without_ner(settings):
    """Workers that do not load GiNZA: these tests are about the pool, not the guard."""
    return settings.model_copy(update={"guard": settings.guard.model_copy(update={"ner": False})})


def test_batch_through_workers_drafts_masks_and_quarantines(settings) -> None:
    specs = [s for s in load_specs(settings.workspace) if s.spec.id == SPEC]
    loaded_here = guard._NLP is not None  # by an earlier test in this process
    ctx = open_batch(settings, specs)
    inbox = folders_for(settings, specs[0].spec).inbox
    builders.make_docx(inbox / "北斗精機_定例.docx", LINES)
    builders.make_pdf(inbox / "北斗精機_定例_写し.pdf", ["\n".join([*LINES, "（写し）"])])
    builders.make_text(inbox / "メモ.txt", "\n".join([*LINES, "（メモ）"]) + "\n")
    broken = inbox / "壊れた.docx"
    broken.write_bytes(os.urandom(4096))  # not a zip archive at all
    original = broken.read_bytes()
    try:
        found = discover(inboxes(ctx), settings.workspace)
        outcomes = {o.name: o for o in (process_document(f, ctx) for f in found)}
        assert ctx.cpu is not None and ctx.cpu.workers == 2
    finally:
        ctx.close()

    assert {n: o.status for n, o in outcomes.items()} == {
        "北斗精機_定例.docx": "drafted",
        "北斗精機_定例_写し.pdf": "drafted",
        "メモ.txt": "drafted",
        "壊れた.docx": "quarantined",
    }
    assert outcomes["壊れた.docx"].reason == REASONS_JA[RefusalKind.CORRUPT]
    quarantine = folders_for(settings, specs[0].spec).quarantine
    assert (quarantine / "壊れた.docx").read_bytes() == original
    # The names went through the workers' GiNZA and came back: masked for the model, restored in
    # the draft. This process did not load the model for it.
    assert loaded_here or guard._NLP is None
    md = outcomes["北斗精機_定例.docx"].draft.md.read_text(encoding="utf-8")
    assert "佐々木" in md and not any(tag in md for tag in ("[人名", "[会社", "[メール"))


def test_refusal_from_a_worker_keeps_its_kind_and_japanese_reason(settings, tmp_path: Path) -> None:
    spec = next(s.spec for s in load_specs(settings.workspace) if s.spec.id == SPEC)
    empty = builders.make_text(tmp_path / "空.txt", "")
    settings = _without_ner(settings)
    pool = CpuPool(settings, 1)
    try:
        with pytest.raises(Refusal) as err:
            pool.call(prepare, empty, spec, settings, "空.txt")
        with pytest.raises(FileNotFoundError):
            pool.call(prepare, tmp_path / "ない.txt", spec, settings, "ない.txt")
    finally:
        pool.close()
    assert err.value.kind is RefusalKind.EMPTY
    assert err.value.reason_ja == REASONS_JA[RefusalKind.EMPTY]


def test_a_dead_worker_is_replaced_and_its_job_retried(settings, tmp_path: Path) -> None:
    pool = CpuPool(_without_ner(settings), 1)
    try:
        first = pool.call(pid_job)
        retried = pool.call(die_once, str(tmp_path / "died"))
        assert retried != first and (tmp_path / "died").exists()  # died once, then succeeded
        assert pool.call(pid_job) not in (first, retried)  # a new pool took over
        with pytest.raises(Refusal) as err:
            pool.call(die_always)
        assert err.value.kind is RefusalKind.TIMEOUT
        assert pool.call(pid_job) > 0
    finally:
        pool.close()


def test_only_the_job_that_kills_its_worker_is_refused(settings, tmp_path: Path) -> None:
    pool = CpuPool(_without_ner(settings), 2)
    outcomes: dict[str, object] = {}

    def run(name: str, fn, *args) -> None:
        try:
            outcomes[name] = pool.call(fn, *args)
        except Refusal as e:
            outcomes[name] = e.kind

    try:
        pool.call(pid_job)
        # A slow innocent job is in the pool when the other job kills its worker, twice.
        innocent = threading.Thread(target=run, args=("innocent", sleep_job, 1.0))
        innocent.start()
        time.sleep(0.2)
        run("culprit", die_always)
        innocent.join(20)
    finally:
        pool.close()
    assert outcomes["culprit"] is RefusalKind.TIMEOUT
    assert isinstance(outcomes["innocent"], float)


def test_preparing_for_the_model_goes_before_rendering(settings) -> None:
    pool = CpuPool(_without_ner(settings), 1)
    done: dict[str, float] = {}

    def run(name: str, seconds: float, priority: int) -> None:
        done[name] = pool.call(sleep_job, seconds, priority=priority)

    try:
        pool.call(pid_job)  # the worker is up
        # One job runs and one waits in the executor (the pool's limit is workers + 1); the
        # rest queue in the pool, where priority decides.
        busy = [threading.Thread(target=run, args=(f"busy{i}", 0.6, PREPARE)) for i in range(2)]
        for t in busy:
            t.start()
        time.sleep(0.2)
        render = threading.Thread(target=run, args=("render", 0.01, FINISH))
        render.start()
        time.sleep(0.1)
        prep = threading.Thread(target=run, args=("prepare", 0.01, PREPARE))
        prep.start()
        for t in [*busy, render, prep]:
            t.join(10)
    finally:
        pool.close()
    assert done["prepare"] < done["render"]


def test_a_worker_is_replaced_after_its_share_of_jobs(settings, monkeypatch) -> None:
    """Workers are recycled (a spaCy vocabulary only grows); every job still returns."""
    monkeypatch.setattr("flows.pool._JOBS_PER_WORKER", 3)
    pool = CpuPool(_without_ner(settings), 1)
    try:
        pids = [pool.call(pid_job) for _ in range(7)]
    finally:
        pool.close()
    assert len(pids) == 7
    assert len(set(pids)) == 3  # 3 + 3 + 1 jobs
