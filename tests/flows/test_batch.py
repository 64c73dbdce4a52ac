"""The intake batch run two ways (Prefect flow and direct thread pool): same steps, same outcomes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core.settings import Settings, load_settings
from core.specs import load_specs
from core.store import Store
from core.workspace import folders_for, init_workspace
from flows.batch import run_direct
from flows.intake import run_intake
from tests.support import builders
from tests.support.fake_endpoint import FakeEndpoint
from tests.support.samples import write_samples


def _workspace(root: Path, **overrides: object) -> Settings:
    settings = load_settings(root, **overrides)
    init_workspace(root, load_specs(root), settings)
    return load_settings(root, **overrides)


def _fill(settings: Settings) -> None:
    for s in load_specs(settings.workspace):
        inbox = folders_for(settings, s.spec).inbox
        write_samples(s.spec.id, inbox)
        (inbox / "空.txt").write_bytes(b"")


def _outcomes(summary) -> list[tuple[str, str, str]]:
    return sorted((o.spec_id, o.name, o.status) for o in summary.outcomes)


@pytest.mark.usefixtures("prefect_harness")
def test_direct_and_prefect_modes_produce_the_same_outcomes(tmp_path: Path) -> None:
    via_prefect = _workspace(tmp_path / "prefect")
    direct = _workspace(tmp_path / "direct")
    _fill(via_prefect)
    _fill(direct)

    a = run_intake(via_prefect)
    b = run_direct(direct)

    assert _outcomes(a) == _outcomes(b)
    assert {o.status for o in b.outcomes} == {"drafted", "quarantined"}
    for settings in (via_prefect, direct):
        drafts = sorted(p.name for p in settings.workspace.rglob("*.draft.md"))
        assert len(drafts) == a.count("drafted")


def test_outage_leaves_documents_pending_never_quarantined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _workspace(
        tmp_path / "ws", llm={"engine": "openai", "max_attempts": 2, "timeout_seconds": 2}
    )
    inbox = folders_for(settings, load_specs(settings.workspace)[0].spec).inbox
    builders.make_text(inbox / "議事録.txt", "本日の商談で見積の提出を決めた。")
    with FakeEndpoint(fail_rates={"500": 1.0}) as ep:
        monkeypatch.setenv("OPENAI_BASE_URL", ep.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        summary = run_direct(settings)
    assert [o.status for o in summary.outcomes] == ["pending"]
    assert (inbox / "議事録.txt").is_file()  # still waiting for the next run
    assert not any(settings.workspace.rglob("*.error.txt"))

    with FakeEndpoint() as ep:  # the endpoint is back: the next run drafts it
        monkeypatch.setenv("OPENAI_BASE_URL", ep.base_url)
        again = run_direct(settings)
    assert [o.status for o in again.outcomes] == ["drafted"]


def test_same_content_same_spec_version_costs_one_model_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _workspace(tmp_path / "ws", llm={"engine": "openai"})
    folders = folders_for(settings, load_specs(settings.workspace)[0].spec)
    original = builders.make_text(folders.inbox / "議事録.txt", "本日の商談で見積の提出を決めた。")
    kept = tmp_path / "控え.txt"
    shutil.copy2(original, kept)  # same bytes and mtime, as a copy in Explorer keeps them
    with FakeEndpoint() as ep:
        monkeypatch.setenv("OPENAI_BASE_URL", ep.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        first = run_direct(settings)
        # Dropped again under the same name (recognised by size and mtime, not re-read) and under
        # another name (recognised by its hash): neither is sent to the model again.
        shutil.copy2(kept, folders.inbox / "議事録.txt")
        shutil.copy2(kept, folders.inbox / "議事録のコピー.txt")
        second = run_direct(settings)
        calls = ep.stats.count
    assert [o.status for o in first.outcomes] == ["drafted"]
    assert sorted(o.status for o in second.outcomes) == ["duplicate", "duplicate"]
    assert calls == 1
    store = Store(settings.database_url or "")
    try:
        [doc] = store.documents()
        assert doc.duplicates == 2 and doc.mtime_ns == os.stat(kept).st_mtime_ns
    finally:
        store.dispose()
