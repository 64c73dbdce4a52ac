"""The prompt catalogue (プロンプト集): a static site that names every spec, tells where to drop
what, shows an example before and after, the rules, and the KPIs so far (per spec version)."""

from __future__ import annotations

import html
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import load_settings
from core.specs import load_specs
from core.store import Store
from flows.spec_examples import scaffold_spec
from kpi.catalog import build_catalog, page_name

BIN = Path(sys.executable).parent / "teichaku"
CHROMIUM = "/usr/bin/chromium"
HEADER_BLUE = (0x1F, 0x4E, 0x79)  # header background in templates/catalog/base.html.j2


def _catalog(ws: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), "catalog", "--workspace", str(ws), "--out", str(out)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "250"},
    )  # fmt: skip


def test_catalog_names_every_spec_with_drop_folder_example_rules(tmp_path: Path) -> None:
    ws = tmp_path / "共有"
    scaffold_spec(ws, "legal/contract_check", existing=load_specs(), department_name="法務部")
    out = tmp_path / "site"
    r = _catalog(ws, out)
    assert r.returncode == 0, r.stdout + r.stderr
    specs = load_specs(ws)
    assert len(specs) >= 8
    index = html.unescape((out / "index.html").read_text(encoding="utf-8"))
    for ls in specs:
        s = ls.spec
        assert s.id in index and s.title in index and s.department_name in index
        page = html.unescape((out / page_name(s.id)).read_text(encoding="utf-8"))
        assert f"{s.folder_rel}/受付/" in page  # what to drop where
        for f in s.output:  # what comes back
            assert f.title in page
        assert "入れる文書（before）" in page and "返ってくる下書き（after）" in page
        for item in s.rules.forbidden_inputs:
            assert item in page
        assert s.rules.review_duty in page and s.rules.owner in page
        assert "下書き <b>0</b> 件" in page  # no store yet: zero, not an error
    assert "この職場の仕様" in index
    # Building the catalogue must not create a store as a side effect.
    assert not (ws / ".teichaku").exists()


def test_example_after_is_the_offline_draft_of_the_example_input(tmp_path: Path) -> None:
    out = tmp_path / "site"
    settings = load_settings(tmp_path / "ws")
    build_catalog(settings, load_specs(), out)
    page = html.unescape((out / page_name("sales/meeting_minutes")).read_text(encoding="utf-8"))
    before = page.split("入れる文書（before）")[1].split("返ってくる下書き（after）")[0]
    after = page.split("返ってくる下書き（after）")[1].split("<details>")[0]
    assert "yamada@example.com" in before  # the input as dropped
    assert "<td>改定単価を反映した見積書の提出</td><td>山田</td><td>12月4日(金)</td>" in after
    assert "yamada@example.com" not in after
    assert "AI下書き・要確認" in page  # the full Markdown draft keeps its banner


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
