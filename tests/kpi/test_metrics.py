"""Weekly KPIs from a real store: the time-saved model, weeks in Asia/Tokyo, trend, ranking,
success cases and roll-out suggestions."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from core.models import ModelCall
from core.store import Document, Store, worker_identity
from kpi.metrics import KpiOptions, SpecInfo, compute_report, parse_week, report_versions_frame

SPECS = {
    "sales/meeting_minutes": SpecInfo(spec_id="sales/meeting_minutes", department="sales", department_name="営業部",
                                      document_name="商談議事録", title="商談議事録ドラフト"),
    "manufacturing/daily_report": SpecInfo(spec_id="manufacturing/daily_report", department="manufacturing",
                                           department_name="製造部", document_name="製造日報", title="シフトサマリー"),
    "hr/job_posting": SpecInfo(spec_id="hr/job_posting", department="hr", department_name="人事部",
                               document_name="人材要件メモ", title="求人票ドラフト"),
}  # fmt: skip


class Seed:
    def __init__(self, store: Store, tmp: Path) -> None:
        self.store, self.tmp, self.n = store, tmp, 0

    def draft(
        self,
        spec_id: str,
        when: datetime,
        *,
        owner: str | None = "tanaka",
        est: float = 30.0,
        body: str = "本文です。",
        version: int = 1,
    ) -> int:
        """A drafted document created at `when` (naive UTC), with its .md on disk."""
        self.n += 1
        c = self.store.claim(
            spec_id=spec_id, spec_version=version, department=spec_id.split("/")[0], content_hash=f"h{self.n}",
            name=f"文書{self.n}.docx", rel_path=f"文書{self.n}.docx", size=1, worker=worker_identity(), lease_seconds=60,
        )  # fmt: skip
        md = self.tmp / f"文書{self.n}.draft.md"
        md.write_text(
            f"**⚠ AI下書き・要確認**\n\n- 元ファイル: x\n\n---\n\n## 要約\n\n{body}\n\n## 決定事項\n\n- 決定\n",
            encoding="utf-8",
        )
        self.store.mark_drafted(
            c.document_id, draft_md=md, draft_docx=md.with_suffix(".docx"), engine="offline", model="m",
            chunks=1, minutes_saved_est=est, owner=owner,
        )  # fmt: skip
        with self.store.session() as s:
            s.execute(update(Document).where(Document.id == c.document_id).values(created_at=when))
        return c.document_id

    def verdict(
        self, doc: int, verdict: str, minutes: float | None = None, baseline: float = 45.0
    ) -> None:
        self.store.record_feedback(doc, verdict=verdict, source="cli", minutes_spent=minutes,  # type: ignore[arg-type]
                                   baseline_minutes=baseline)  # fmt: skip


@pytest.fixture
def seed(store_url: str, tmp_path: Path):
    store = Store(store_url)
    yield Seed(store, tmp_path)
    store.dispose()


def _report(seed: Seed, week: str = "2026-W48", **opts: object):
    return compute_report(seed.store, week=week, options=KpiOptions(**opts), specs=SPECS)  # type: ignore[arg-type]


def test_time_saved_estimated_and_confirmed(seed: Seed) -> None:
    monday = datetime(2026, 11, 23, 3, 0)  # 12:00 JST
    a = seed.draft("sales/meeting_minutes", monday, owner="tanaka")
    b = seed.draft("sales/meeting_minutes", monday, owner="suzuki")
    c = seed.draft("sales/meeting_minutes", monday, owner="tanaka")
    seed.draft("sales/meeting_minutes", monday, owner=None)  # no feedback yet
    seed.verdict(a, "adopted", minutes=15)  # baseline 45 - 15 spent = 30 confirmed
    seed.verdict(b, "adopted")  # no minutes: the estimate (30) counts as confirmed
    seed.verdict(c, "rejected")  # zero
    r = _report(seed)
    sales = next(d for d in r.departments if d.department == "sales")
    assert (sales.documents, sales.drafts, sales.adopted, sales.rejected) == (4, 4, 2, 1)
    assert sales.adoption_rate == pytest.approx(2 / 3, abs=1e-3)
    assert sales.hours_saved_est == 2.0  # 4 x 30 min
    assert sales.hours_saved_confirmed == 1.0  # 30 + 30
    assert sales.active_people == 2
    assert r.headline.hours_saved_confirmed == 1.0


def test_every_department_appears_with_zeros(seed: Seed) -> None:
    seed.draft("sales/meeting_minutes", datetime(2026, 11, 24))
    r = _report(seed)
    assert [d.department_name for d in r.departments] == ["人事部", "製造部", "営業部"]
    hr = next(d for d in r.departments if d.department == "hr")
    assert (hr.documents, hr.hours_saved_est, hr.adoption_rate) == (0, 0.0, None)
    assert {row.spec_id for row in r.rows} == set(SPECS)
    assert len(r.ranking) == 3


def test_week_is_decided_in_tokyo_time(seed: Seed) -> None:
    # Sunday 2026-11-29 16:00 UTC is Monday 01:00 in Tokyo: week 49, not 48.
    seed.draft("sales/meeting_minutes", datetime(2026, 11, 29, 16, 0))
    assert _report(seed, "2026-W48").headline.documents == 0
    assert _report(seed, "2026-W49").headline.documents == 1
    assert _report(seed, "2026-W48", timezone="UTC").headline.documents == 1


def test_trend_covers_eight_weeks_ending_at_the_week(seed: Seed) -> None:
    seed.draft("sales/meeting_minutes", datetime(2026, 10, 5, 3))  # W41
    seed.draft("sales/meeting_minutes", datetime(2026, 11, 24, 3))  # W48
    seed.draft("sales/meeting_minutes", datetime(2026, 12, 1, 3))  # W49: after the week, not in it
    r = _report(seed)
    assert [p.week for p in r.trend] == [f"2026-W{w}" for w in range(41, 49)]
    assert [p.drafts for p in r.trend] == [1, 0, 0, 0, 0, 0, 0, 1]


def test_monthly_ranking_orders_by_use_and_stops_at_the_week(seed: Seed) -> None:
    for _ in range(3):
        seed.draft("manufacturing/daily_report", datetime(2026, 11, 2, 3))
    for _ in range(2):
        seed.draft("sales/meeting_minutes", datetime(2026, 11, 24, 3))
    seed.draft("sales/meeting_minutes", datetime(2026, 10, 30, 3))  # October: another month
    r = _report(seed)
    assert r.month == "2026-11"
    assert [(x.rank, x.department, x.drafts) for x in r.ranking] == [
        (1, "manufacturing", 3),
        (2, "sales", 2),
        (3, "hr", 0),
    ]


def test_rollout_suggestion_needs_thresholds_and_an_untried_department(seed: Seed) -> None:
    ids = [seed.draft("sales/meeting_minutes", datetime(2026, 11, 24, 3)) for _ in range(4)]
    for d in ids[:3]:
        seed.verdict(d, "adopted")
    seed.verdict(ids[3], "rejected")
    r = _report(seed, rollout_min_adopted=3, rollout_min_adoption_rate=0.7)
    assert len(r.suggestions) == 1
    s = r.suggestions[0]
    assert (s.spec_id, s.adopted, s.adoption_rate) == ("sales/meeting_minutes", 3, 0.75)
    assert s.to_department_names == ["人事部", "製造部"]
    assert _report(seed, rollout_min_adopted=4).suggestions == []
    assert _report(seed, rollout_min_adoption_rate=0.8).suggestions == []
    # Once HR has its own meeting-minutes spec in use, HR is no longer suggested.
    seed.draft("hr/meeting_minutes", datetime(2026, 11, 25, 3))
    assert _report(seed, rollout_min_adoption_rate=0.7).suggestions[0].to_departments == [
        "manufacturing"
    ]


def test_success_cases_rank_confirmed_savings_with_an_excerpt(seed: Seed) -> None:
    a = seed.draft(
        "sales/meeting_minutes", datetime(2026, 11, 24, 3), body="ABC商事と来期の単価を合意。"
    )
    b = seed.draft(
        "manufacturing/daily_report", datetime(2026, 11, 24, 3), body="ライン2で停止30分。"
    )
    seed.verdict(a, "adopted", minutes=40)  # 5 minutes saved
    seed.verdict(b, "adopted")  # 30 minutes saved
    cases = _report(seed).success_cases
    assert [c.spec_id for c in cases] == ["manufacturing/daily_report", "sales/meeting_minutes"]
    assert cases[0].minutes_saved_confirmed == 30.0
    assert cases[0].excerpt == "要約：ライン2で停止30分。"
    assert _report(seed, excerpts=False).success_cases[0].excerpt is None


def test_versions_of_one_spec_are_compared_side_by_side(seed: Seed) -> None:
    """Does v3 get adopted more often than v2? One row per spec version in the week."""
    when = datetime(2026, 11, 24, 3)
    v2 = [seed.draft("sales/meeting_minutes", when, version=2) for _ in range(4)]
    v3 = [seed.draft("sales/meeting_minutes", when, version=3) for _ in range(3)]
    for d, verdict in zip(v2, ["adopted", "rejected", "rejected", "rejected"], strict=True):
        seed.verdict(d, verdict)
    for d, verdict in zip(v3, ["adopted", "adopted", "rejected"], strict=True):
        seed.verdict(d, verdict)
    seed.draft("sales/meeting_minutes", datetime(2026, 12, 1, 3), version=4)  # next week: not here
    r = _report(seed)
    sales = [v for v in r.versions if v.spec_id == "sales/meeting_minutes"]
    got = [(v.spec_version, v.documents, v.adopted, v.rejected, v.adoption_rate) for v in sales]
    assert got == [
        (2, 4, 1, 3, 0.25),
        (3, 3, 2, 1, pytest.approx(2 / 3, abs=1e-3)),
    ]
    assert [v.hours_saved_confirmed for v in sales] == [0.5, 1.0]
    # The per-spec row (what the digest shows) is the sum of its versions.
    row = next(x for x in r.rows if x.spec_id == "sales/meeting_minutes")
    assert (row.documents, row.adopted, row.rejected) == (7, 3, 4)
    # A spec unused this week keeps one all-zero row without a version, as in `rows`.
    hr = [v for v in r.versions if v.spec_id == "hr/job_posting"]
    assert [(v.spec_version, v.documents, v.adoption_rate) for v in hr] == [(None, 0, None)]
    csv = report_versions_frame(r)
    assert list(csv.loc[csv["spec_id"] == "sales/meeting_minutes", "spec_version"]) == [2, 3]


def test_tokens_and_cost_count_only_remote_engines(seed: Seed) -> None:
    d = seed.draft("sales/meeting_minutes", datetime(2026, 11, 24, 3))
    calls = [
        ModelCall(engine="openai", model="m", endpoint_host="h", sent_sha256="0" * 64, prompt_tokens=1500, completion_tokens=500),
        ModelCall(engine="offline", model="m", endpoint_host="local", sent_sha256="0" * 64, prompt_tokens=1000),
    ]  # fmt: skip
    seed.store.record_calls(d, "sales/meeting_minutes", 1, calls)
    h = _report(seed, cost_per_1k_tokens=2.0).headline
    assert h.tokens == 3000
    assert h.cost_est == 4.0  # 2,000 remote tokens x 2 円 / 1k


def test_people_only_when_turned_on(seed: Seed) -> None:
    seed.draft("sales/meeting_minutes", datetime(2026, 11, 24, 3), owner="tanaka")
    assert _report(seed).people is None
    people = _report(seed, per_person=True).people
    assert people is not None and [(p.owner, p.drafts) for p in people] == [("tanaka", 1)]


def test_parse_week() -> None:
    assert parse_week("2026-W48").isoformat() == "2026-11-23"
    assert parse_week("2020-W53").isoformat() == "2020-12-28"
    for bad in ("2026-48", "2026-W5", "2025-W53", "W48"):
        with pytest.raises(ValueError):
            parse_week(bad)
