"""Retention, untouched adoptions and rejection reasons: `kpi` (pandas), the catalogue (the
counting rule without pandas) and the digest show the same figures per spec version."""

from __future__ import annotations

from pathlib import Path

from core.settings import load_settings
from core.specs import load_specs
from core.store import Store
from kpi.catalog import load_kpis
from kpi.digest import build_digest
from kpi.metrics import KpiOptions, compute_report, current_week, spec_infos

# (spec version, verdict, retention, edit chars, minutes, reason)
JUDGED = [
    (1, "adopted", 0.62, 240, 20.0, None),
    (1, "adopted", 1.0, 0, None, None),  # untouched, no minutes: 無修正での採用
    (1, "adopted", 0.9, 40, None, None),
    (1, "rejected", None, None, None, "内容が不正確"),
    (1, "rejected", None, None, None, "内容が不正確"),
    (1, "rejected", None, None, None, "不要だった"),
    (2, "adopted", 1.0, 0, 15.0, None),  # untouched but minutes given: not counted as such
    (2, "rejected", None, None, None, "形式が合わない"),
]


def _store(tmp_path: Path):
    ws = tmp_path / "ws"
    settings = load_settings(ws)
    settings.state_dir.mkdir(parents=True)
    store = Store.open(settings)
    for i, (version, verdict, retention, edits, minutes, reason) in enumerate(JUDGED):
        claim = store.claim(
            spec_id="sales/meeting_minutes", spec_version=version, department="sales",
            content_hash=f"h{i}", name=f"{i}.docx", rel_path=f"{i}.docx", size=1, worker="t",
            lease_seconds=60,
        )  # fmt: skip
        store.mark_drafted(
            claim.document_id, draft_md=tmp_path / f"{i}.draft.md", draft_docx=tmp_path / f"{i}.draft.docx",
            engine="offline", model="m", chunks=1, minutes_saved_est=30.0,
        )  # fmt: skip
        store.record_feedback(claim.document_id, verdict=verdict, source="folder",
                              minutes_spent=minutes, baseline_minutes=45.0, reason=reason)  # fmt: skip
        if retention is not None:
            store.record_retention(claim.document_id, retention=retention, edit_chars=edits,
                                   compared=f"{i}", matched_by="name")  # fmt: skip
    return settings, store


def test_kpi_catalogue_and_digest_agree_on_retention_and_reasons(tmp_path: Path) -> None:
    settings, store = _store(tmp_path)
    specs = spec_infos(load_specs(None))
    week = current_week("Asia/Tokyo")
    with store:
        report = compute_report(store, week=week, options=KpiOptions(), specs=specs)
    v1, v2 = [v for v in report.versions if v.spec_id == "sales/meeting_minutes"]
    assert (v1.retention_median, v1.untouched_adoptions, v1.edit_chars_median) == (0.9, 1, 40)
    assert (v2.retention_median, v2.untouched_adoptions) == (1.0, 0)
    reasons = [(r.spec_version, r.reason, r.count) for r in report.reasons]
    assert reasons == [(1, "内容が不正確", 2), (1, "不要だった", 1), (2, "形式が合わない", 1)]

    kpis, _ = load_kpis(settings)
    c1, c2 = kpis["sales/meeting_minutes"].versions
    assert (c1.retention_median, c1.untouched) == (v1.retention_median, v1.untouched_adoptions)
    assert c1.top_reasons == [("内容が不正確", 2), ("不要だった", 1)]
    assert (c2.retention_median, c2.untouched, c2.top_reasons) == (1.0, 0, [("形式が合わない", 1)])

    mail = build_digest(report)
    line = "商談議事録ドラフト（要約・決定事項・ToDo） v1: 採用 3 件（残存率の中央値 90%・無修正での採用 1 件）・不採用 3 件（理由: 内容が不正確 2、不要だった 1）"
    assert line in mail.text
    assert "内容が不正確 2、不要だった 1" in mail.html
