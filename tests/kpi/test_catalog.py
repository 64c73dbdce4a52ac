"""The prompt catalogue's reporting half (kpi.catalog): pages rendered from typed data, and the
KPIs so far per spec and per spec version. Building it from the examples: tests/flows/test_catalog.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import load_settings
from core.specs import load_specs
from core.store import Store
from flows.catalog import build_catalog
from kpi.catalog import (
    SpecKpi,
    VersionKpi,
    catalog_entry,
    example_of,
    page_name,
    render_catalog,
)

BIN = Path(sys.executable).parent / "teichaku"
CHROMIUM = "/usr/bin/chromium"
HEADER_BLUE = (0x1F, 0x4E, 0x79)  # header background in templates/catalog/base.html.j2


def _catalog(ws: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), "catalog", "--workspace", str(ws), "--out", str(out)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "250"},
    )  # fmt: skip


def test_pages_render_from_typed_data_escaped(tmp_path: Path) -> None:
    """kpi.catalog only renders: given entries (no examples run, no store), it writes the pages."""
    settings = load_settings(tmp_path / "ws")
    specs = {ls.spec.id: ls for ls in load_specs()}
    minutes = specs["sales/meeting_minutes"]
    output = minutes.spec.output_model().model_dump() | {
        "summary": "要約<b>です</b>",
        "action_items": [{"task": "見積書", "owner": "山田", "due": "12月4日"}],
    }
    example = example_of(
        minutes, "メモ.docx", "<script>alert(1)</script>", output, "# 下書き", "offline / m"
    )
    kpi = SpecKpi(documents=3, drafted=2, adopted=1, versions=[VersionKpi(1, 3, 2, 1, 0)])
    entries = [
        catalog_entry(settings, minutes, kpi, example),
        catalog_entry(settings, specs["admin/ringi"], SpecKpi(), None),
    ]
    written = render_catalog(settings, entries, tmp_path / "site", kpi_note="実績を読めません")
    assert [p.name for p in written] == [
        "index.html",
        page_name("sales/meeting_minutes"),
        page_name("admin/ringi"),
    ]
    page = written[1].read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "要約&lt;b&gt;です&lt;/b&gt;" in page
    assert "<td>見積書</td><td>山田</td><td>12月4日</td>" in page
    assert "例: メモ.docx" in page and "下書き <b>2</b> 件" in page
    assert "例はまだありません。" in written[2].read_text(encoding="utf-8")
    index = written[0].read_text(encoding="utf-8")
    assert "実績を読めません" in index and "これまでの下書き <b>2</b> 件" in index


def test_catalog_shows_kpis_per_spec_and_version(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    settings = load_settings(ws)
    settings.state_dir.mkdir(parents=True)
    store = Store(settings.database_url or "")
    for i, (version, verdict) in enumerate(
        [(1, "rejected"), (2, "adopted"), (2, "adopted"), (2, None)]
    ):
        claim = store.claim(
            spec_id="admin/ringi", spec_version=version, department="admin", content_hash=f"h{i}",
            name=f"稟議{i}.txt", rel_path=f"稟議{i}.txt", size=10, worker="test", lease_seconds=60,
        )  # fmt: skip
        store.mark_drafted(
            claim.document_id, draft_md=tmp_path / f"{i}.md", draft_docx=tmp_path / f"{i}.docx",
            engine="offline", model="extractive-ja-v1", chunks=1, minutes_saved_est=45.0,
        )  # fmt: skip
        if verdict:
            store.record_feedback(claim.document_id, verdict=verdict, source="cli")
    store.dispose()

    out = tmp_path / "site"
    r = _catalog(ws, out)
    assert r.returncode == 0, r.stdout + r.stderr
    page = (out / page_name("admin/ringi")).read_text(encoding="utf-8")
    assert "下書き <b>4</b> 件" in page and "推定削減 <b>180</b> 分" in page
    assert "採用 <b>2</b> / 不採用 <b>1</b>" in page
    assert "<td>v1</td><td>1</td><td>1</td><td>0</td><td>1</td>\n      <td>0%</td>" in page
    assert "<td>v2</td><td>3</td><td>3</td><td>2</td><td>0</td>\n      <td>100%</td>" in page
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "推定削減時間 <b>3.0</b> 時間" in index
    other = (out / page_name("hr/job_posting")).read_text(encoding="utf-8")
    assert "下書き <b>0</b> 件" in other


@pytest.mark.browser
def test_catalog_renders_in_headless_chromium(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium fonts-noto-cjk)")
    from PIL import Image

    out = tmp_path / "site"
    build_catalog(load_settings(tmp_path / "ws"), load_specs(), out)
    for page in ("index.html", page_name("sales/followup_mail")):
        shot = tmp_path / f"{page}.png"
        subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,2000",
             (out / page).as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        img = Image.open(shot).convert("RGB")
        assert img.size == (1200, 2000)
        # The header band is drawn (the stylesheet loaded) and the page is not blank below it.
        assert img.getpixel((600, 10)) == HEADER_BLUE
        body = img.crop((0, 200, 1200, 2000))
        assert len(body.getcolors(maxcolors=1_000_000) or []) > 50, "page body looks blank"


def test_catalog_figures_agree_with_kpi_totals(tmp_path: Path) -> None:
    """Drift guard: the catalogue counts without pandas (speed); kpi.metrics.totals is the reference."""
    from kpi.catalog import load_kpis
    from kpi.metrics import totals

    ws = tmp_path / "ws"
    settings = load_settings(ws)
    settings.state_dir.mkdir(parents=True)
    store = Store(settings.database_url or "")
    for i, (spec_id, status) in enumerate(
        [
            ("admin/ringi", "drafted"),
            ("admin/ringi", "quarantined"),
            ("hr/job_posting", "drafted"),
            ("hr/job_posting", "pending"),
        ]
    ):
        claim = store.claim(
            spec_id=spec_id, spec_version=1, department=spec_id.split("/")[0], content_hash=f"h{i}",
            name=f"{i}.txt", rel_path=f"{i}.txt", size=1, worker="test", lease_seconds=60,
        )  # fmt: skip
        if status == "drafted":
            store.mark_drafted(
                claim.document_id, draft_md=tmp_path / f"{i}.md", draft_docx=tmp_path / f"{i}.docx",
                engine="offline", model="m", chunks=1, minutes_saved_est=10.0 + i,
            )  # fmt: skip
        elif status == "quarantined":
            store.mark_quarantined(claim.document_id, reason="r", detail="d", path=tmp_path / "q")
        else:
            store.mark_pending(claim.document_id, reason="r", detail="d")
    reference = totals(store)
    store.dispose()
    kpis, note = load_kpis(settings)
    assert note is None
    for r in reference.itertuples(index=False):
        k = kpis[r.spec_id]
        assert (k.documents, k.drafted, k.quarantined) == (r.documents, r.drafted, r.quarantined)
        assert k.minutes_saved_est == pytest.approx(r.minutes_saved_est)
