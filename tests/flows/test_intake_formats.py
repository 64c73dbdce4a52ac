"""Every document an office really drops, through the real batch to the local OpenAI-compatible
server: scans and photos (OCR), Excel, e-mail, slides and old Japanese PDFs are drafted, their
facts reach the model, nothing garbled is sent, and hostile files of each format are quarantined
with a reason while every original is kept byte for byte."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

import pytest

from core.settings import Settings, load_settings
from core.specs import load_specs
from core.workspace import folders_for, init_workspace
from flows.batch import run_direct
from tasks.extract.pdf_layers import layer_problem
from tests.support import builders, legacy_pdfs, office_docs, scans
from tests.support.fake_endpoint import FakeEndpoint

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(scans.cjk_font_path() is None, reason="no Japanese font: fonts-noto-cjk"),
]


def _norm(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


def _born_digital(inbox: Path) -> dict[str, list[str]]:
    """name -> facts, for the files whose text is stored as text."""
    office_docs.make_form_workbook(inbox / "成形日報.xlsx")
    office_docs.make_table_workbook(inbox / "7月実績.xlsx")
    office_docs.make_iso2022_eml(inbox / "見積の件.eml", attachment="抜取数は20個。".encode())
    office_docs.make_html_eml(inbox / "出荷変更.eml")
    office_docs.make_pptx(inbox / "ヒアリング.pptx")
    legacy_pdfs.make_cmap_pdf(inbox / "旧議事録.pdf", legacy_pdfs.HORIZONTAL_LINES)
    legacy_pdfs.make_vertical_pdf(inbox / "官報.pdf", legacy_pdfs.GAZETTE_TIERS)
    f = office_docs.FACTS
    return {
        "成形日報.xlsx": f["form_xlsx"],
        "7月実績.xlsx": f["table_xlsx"],
        "見積の件.eml": [*f["iso2022_eml"], "抜取数は20個"],
        "出荷変更.eml": f["html_eml"],
        "ヒアリング.pptx": f["pptx"],
        "旧議事録.pdf": legacy_pdfs.HORIZONTAL_FACTS,
        "官報.pdf": legacy_pdfs.GAZETTE_FACTS,
    }


def _scanned(inbox: Path) -> dict[str, list[str]]:
    """name -> facts, for paper that was scanned or photographed."""
    page = scans.draw_page(scans.RINGI_LINES, dpi=300)
    tilted = scans.degrade(page, tilt_degrees=1.0, speckle=0.002, seed=7)
    scans.make_scanned_pdf(inbox / "稟議スキャン.pdf", [tilted], dpi=300)
    memo = scans.draw_page(scans.MEMO_LINES, point_size=16, height_mm=120)
    scans.make_image(inbox / "ホワイトボード.jpg", scans.photograph(memo, seed=9), quality=70)
    return {"稟議スキャン.pdf": scans.RINGI_FACTS, "ホワイトボード.jpg": scans.MEMO_FACTS}


def _hostile(inbox: Path) -> list[str]:
    office_docs.make_zip_bomb_office(inbox / "爆弾.xlsx", "xl/workbook.xml", 400)
    office_docs.make_xml_bomb_xlsx(inbox / "実体爆弾.xlsx")
    builders.make_encrypted_docx(inbox / "鍵付き.xlsx", size=9000)
    builders.make_encrypted_docx(inbox / "鍵付き.pptx", size=9100)
    builders.make_binary(inbox / "壊れた.pptx", seed=11)
    builders.make_binary(inbox / "壊れた.eml", seed=12)
    builders.make_binary(inbox / "壊れた.jpg", seed=13)
    return [
        "爆弾.xlsx",
        "実体爆弾.xlsx",
        "鍵付き.xlsx",
        "鍵付き.pptx",
        "壊れた.pptx",
        "壊れた.eml",
        "壊れた.jpg",
    ]


def _workspace(root: Path, base_url: str) -> Settings:
    overrides = {"llm": {"engine": "openai", "model": "test-model", "concurrency": 4}}
    settings = load_settings(root, **overrides)
    init_workspace(root, load_specs(root), settings)
    return load_settings(root, **overrides)


def _share(facts: dict[str, list[str]], sent: str) -> float:
    all_facts = [f for fs in facts.values() for f in fs]
    return sum(1 for f in all_facts if _norm(f) in sent) / len(all_facts)


def test_every_office_format_is_drafted_and_its_facts_reach_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeEndpoint() as ep:
        monkeypatch.setenv("OPENAI_BASE_URL", ep.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-local")
        settings = _workspace(tmp_path / "共有フォルダ", ep.base_url)
        spec = next(
            s.spec for s in load_specs(settings.workspace) if s.spec.id == "sales/meeting_minutes"
        )
        f = folders_for(settings, spec)
        digital = _born_digital(f.inbox)
        scanned = _scanned(f.inbox)
        hostile = _hostile(f.inbox)
        before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in f.inbox.iterdir()}

        summary = run_direct(settings)
        raw = "\n".join(m["content"] for r in ep.requests for m in r["messages"])

    outcomes = {o.name: o for o in summary.outcomes}
    for name in [*digital, *scanned]:
        assert outcomes[name].status == "drafted", (name, outcomes[name])
    for name in hostile:
        assert outcomes[name].status == "quarantined", (name, outcomes[name])
        assert outcomes[name].reason
    sent = _norm(raw)
    assert _share(digital, sent) >= 0.95, [
        x for fs in digital.values() for x in fs if _norm(x) not in sent
    ]
    assert _share(scanned, sent) >= 0.85, [
        x for fs in scanned.values() for x in fs if _norm(x) not in sent
    ]
    # No mojibake from the old PDFs (or anything else) went to the model.
    assert layer_problem(raw) is None and "\ufffd" not in raw
    # Each OCR'd draft says so, and what OCR read is kept beside it.
    for name in scanned:
        draft = outcomes[name].draft
        assert draft is not None
        assert "OCR" in draft.md.read_text(encoding="utf-8")
        ocr_txt = draft.md.with_name(draft.md.name.replace(".draft.md", ".ocr.txt"))
        assert ocr_txt.exists() and ocr_txt.read_text(encoding="utf-8").strip()
    # Nothing is lost: every original is in the archive or in quarantine, byte for byte.
    kept = {p.name: p for p in [*f.archive.iterdir(), *f.quarantine.iterdir()]}
    for name, digest in before.items():
        assert hashlib.sha256(kept[name].read_bytes()).hexdigest() == digest, name
    for name in hostile:
        assert (f.quarantine / f"{name}.error.txt").exists()
