"""One document through the pipeline, including files that vanish while they are processed."""

from __future__ import annotations

from pathlib import Path

import pytest

import flows.cpu_jobs as jobs
from core.settings import load_settings
from core.specs import load_specs
from core.workspace import folders_for, init_workspace
from flows.document import inboxes, open_batch, process_document
from tasks.discover import discover
from tests.support.samples import write_samples

SPEC = "sales/meeting_minutes"


@pytest.fixture
def ctx(tmp_path: Path):
    # In-process steps (cpu_workers=0): these tests patch the steps, which worker processes
    # would not see. tests/test_cpu_pool.py runs the same pipeline through the workers.
    settings = load_settings(tmp_path / "ws", guard={"ner": False}, intake={"cpu_workers": 0})
    specs = load_specs(settings.workspace)
    init_workspace(settings.workspace, specs, settings)
    c = open_batch(settings, [s for s in specs if s.spec.id == SPEC])
    yield c
    c.close()


def test_draft_then_identical_copy_is_a_duplicate(ctx) -> None:
    inbox = ctx.folders(SPEC).inbox
    first = write_samples(SPEC, inbox)[0]
    data = first.read_bytes()
    [found] = discover(inboxes(ctx), ctx.settings.workspace)
    assert process_document(found, ctx).status == "drafted"
    (inbox / "コピー.docx").write_bytes(data)
    [again] = discover(inboxes(ctx), ctx.settings.workspace)
    outcome = process_document(again, ctx)
    assert outcome.status == "duplicate"
    assert len(list(ctx.folders(SPEC).outbox.glob("*.draft.docx"))) == 1
    assert (ctx.folders(SPEC).archive / "コピー.docx").read_bytes() == data


def test_file_moved_away_mid_processing_is_released_not_lost(
    ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = ctx.folders(SPEC).inbox
    path = write_samples(SPEC, inbox)[0]
    [found] = discover(inboxes(ctx), ctx.settings.workspace)
    elsewhere = inbox.parent / "持ち出し.docx"
    real_extract = jobs.extract_text

    def owner_moves_it_first(p, limits):  # a person drags the file out while it is being read
        path.rename(elsewhere)
        return real_extract(p, limits)

    monkeypatch.setattr(jobs, "extract_text", owner_moves_it_first)
    outcome = process_document(found, ctx)
    assert outcome.status == "skipped"
    assert elsewhere.exists()
    assert not list(folders_for(ctx.settings, ctx.specs[SPEC].spec).outbox.glob("*.draft.*"))
    [doc] = ctx.store.documents()
    assert doc.status == "pending" and doc.claimed_by is None
