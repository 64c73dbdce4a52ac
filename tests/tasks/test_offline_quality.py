"""The offline engine's floor on figures kept and section length (bench/offline_quality.py prints
the full table): the samples plus the held-apart set, measured the same way."""

from __future__ import annotations

import statistics

import pytest

from core.specs import load_specs
from tasks.generate.offline import OfflineEngine
from tests.support.fact_measure import measure, sample_inputs
from tests.support.offline_heldout import HELDOUT


@pytest.fixture(scope="module")
def results():
    engine = OfflineEngine()
    specs = {s.spec.id: s for s in load_specs(None)}
    out = [measure(s, n, t, engine) for s in specs.values() for n, t in sample_inputs(s)]
    return out + [measure(specs[sid], n, t, engine) for sid, n, t in HELDOUT]


def test_figures_kept_overall_and_per_spec(results):
    assert sum(r.kept for r in results) / sum(r.source_facts for r in results) >= 0.90
    for sid in {r.spec_id for r in results}:
        rs = [r for r in results if r.spec_id == sid]
        assert sum(r.kept for r in rs) / sum(r.source_facts for r in rs) >= 0.80, sid


def test_sections_shorter_than_the_source(results):
    assert statistics.median(r.ratio for r in results) <= 0.80


def test_owner_and_due_parsed_from_the_line():
    spec = next(s.spec for s in load_specs(None) if s.spec.id == "sales/meeting_minutes")
    text = (
        "商談メモ\n■ToDo\n・田中 真理：見積書作成（期限 12月4日）\n"
        "・佐藤さんが試作品20個を手配する（11月30日まで）\n"
    )
    rows = OfflineEngine().generate(spec, text, file_name="m.txt").output["action_items"]
    assert [(r["owner"], r["task"], r["due"]) for r in rows] == [
        ("田中 真理", "見積書作成", "12月4日"),
        ("佐藤", "試作品20個を手配する", "11月30日"),
    ]


def test_samples_alone_meet_the_targets():
    """The samples are what `make demo` and the catalogue show: the targets hold on them alone
    (the follow-up mail's misses were the meeting's date line; the internal note's 3% stays out)."""
    engine = OfflineEngine()
    rs = [measure(s, n, t, engine) for s in load_specs(None) for n, t in sample_inputs(s)]
    assert sum(r.kept for r in rs) / sum(r.source_facts for r in rs) >= 0.90
    for sid in {r.spec_id for r in rs}:
        mine = [r for r in rs if r.spec_id == sid]
        assert sum(r.kept for r in mine) / sum(r.source_facts for r in mine) >= 0.80, sid
    assert statistics.median(r.ratio for r in rs) <= 0.80
