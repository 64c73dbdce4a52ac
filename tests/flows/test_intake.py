"""The intake flow end to end: real files in real folders, through Prefect, to drafts on disk."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path

import pytest

from core.settings import Settings, load_settings
from core.specs import load_specs
from core.store import Store
from core.workspace import folders_for, init_workspace
from flows.intake import run_intake
from tests.support import builders
from tests.support.fake_endpoint import FakeEndpoint
from tests.support.samples import write_samples

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _workspace(tmp_path: Path, **overrides: object) -> Settings:
    ws = tmp_path / "共有フォルダ"
    settings = load_settings(ws, **overrides)
    init_workspace(ws, load_specs(ws), settings)
    return load_settings(ws, **overrides)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_offline_every_spec_gets_a_draft_and_originals_are_archived(tmp_path: Path) -> None:
    settings = _workspace(tmp_path)
    specs = load_specs(settings.workspace)
    originals: dict[str, str] = {}
    for s in specs:
        for p in write_samples(s.spec.id, folders_for(settings, s.spec).inbox):
            originals[unicodedata.normalize("NFC", p.name)] = _sha(p)

    summary = run_intake(settings)

    assert summary.engine == "offline"
    assert summary.count("drafted") == len(originals)
    for s in specs:
        f = folders_for(settings, s.spec)
        drafts = sorted(p.name for p in f.outbox.iterdir())
        assert any(n.endswith(".draft.docx") for n in drafts), s.spec.id
        md = next(f.outbox.glob("*.draft.md")).read_text(encoding="utf-8")
        assert "要確認" in md and "オフライン" in md
        assert list(f.inbox.iterdir()) == []
        for archived in f.archive.iterdir():
            assert _sha(archived) == originals[unicodedata.normalize("NFC", archived.name)]

    # Same bytes again: no second draft.
    again = next(iter(specs))
    inbox = folders_for(settings, again.spec).inbox
    write_samples(again.spec.id, inbox)
    second = run_intake(settings)
    assert second.count("duplicate") >= 1 and second.count("drafted") == 0


def _corpus(inbox: Path) -> dict[str, str]:
    """The held-out kinds of input. Returns name -> expected outcome."""
    long_text = "\n".join(
        f"{i}行目: 受注見込みと納期の調整について議論した。担当は山田。" for i in range(400)
    )
    expected = {}
    builders.make_docx(
        inbox / "商談メモ.docx",
        ["【決定事項】", "見積を12月5日までに提出する。", [["作業", "担当"], ["見積", "山田"]]],
    )
    expected["商談メモ.docx"] = "drafted"
    builders.make_pdf(inbox / "日報.pdf", ["製造日報 生産数 1,200個 計画 1,250個"])
    expected["日報.pdf"] = "drafted"
    builders.make_text(inbox / "utf8.txt", long_text)
    expected["utf8.txt"] = "drafted"
    builders.make_text(inbox / "sjis.txt", "稟議メモ ①㈱髙 購入費用は50万円。", encoding="cp932")
    expected["sjis.txt"] = "drafted"
    builders.make_text(inbox / "メモ.md", "# 要件\n- Python 経験3年以上")
    expected["メモ.md"] = "drafted"
    builders.make_long_pdf(inbox / "300ページ.pdf", n_pages=300)
    expected["300ページ.pdf"] = "drafted"
    nfd = unicodedata.normalize("NFD", "パンフレット議事録.txt")
    builders.make_text(inbox / nfd, "パンフレットの件で合意した。")
    expected["パンフレット議事録.txt"] = "drafted"
    long_name = "長" * 78 + ".txt"  # 234 bytes + suffix: near the 255-byte limit
    builders.make_text(inbox / long_name, "長い名前のファイルの本文。")
    expected[long_name] = "drafted"
    (inbox / "空.txt").write_bytes(b"")
    expected["空.txt"] = "quarantined"
    builders.make_binary(inbox / "壊れた.docx")
    expected["壊れた.docx"] = "quarantined"
    builders.make_docx(inbox / "途中.docx", ["途中で切れた文書"] * 50)
    builders.truncate(inbox / "途中.docx")
    expected["途中.docx"] = "quarantined"
    builders.make_encrypted_pdf(inbox / "鍵付き.pdf", ["秘密"])
    expected["鍵付き.pdf"] = "quarantined"
    builders.make_scanned_pdf(inbox / "スキャン.pdf")
    expected["スキャン.pdf"] = "quarantined"
    builders.make_zip_bomb_docx(inbox / "爆弾.docx", uncompressed_mb=400)
    expected["爆弾.docx"] = "quarantined"
    # Different bytes from 壊れた.docx: identical content is one claim, and a twin processed at
    # the same moment is left for the next run ("being processed"), not quarantined twice.
    builders.make_binary(inbox / "バイナリ.txt", seed=1)
    expected["バイナリ.txt"] = "quarantined"
    builders.make_exe(inbox / "setup.exe")
    expected["setup.exe"] = "quarantined"
    os.symlink("/etc/passwd", inbox / "passwd.txt")
    expected["passwd.txt"] = "quarantined"
    (inbox / "~$商談メモ.docx").write_bytes(b"owner file")
    (inbox / ".~lock.商談メモ.docx#").write_bytes(b"lock")
    (inbox / "download.crdownload").write_bytes(b"partial")
    return expected


def test_held_out_corpus_against_a_small_context_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeEndpoint(context_tokens=6000) as ep:
        monkeypatch.setenv("OPENAI_BASE_URL", ep.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-local")
        settings = _workspace(
            tmp_path,
            llm={
                "engine": "openai",
                "model": "test-model",
                "context_tokens": 6000,
                "concurrency": 4,
            },
        )
        spec = next(
            s.spec for s in load_specs(settings.workspace) if s.spec.id == "sales/meeting_minutes"
        )
        f = folders_for(settings, spec)
        expected = _corpus(f.inbox)
        before = {p.name: (_sha(p) if not p.is_symlink() else "link") for p in f.inbox.iterdir()}
        passwd_before = Path("/etc/passwd").stat()

        summary = run_intake(settings)

        refused = ep.stats.statuses.get(400, 0)
        sent = "\n".join(m["content"] for r in ep.requests for m in r["messages"])
    outcomes = {o.name: o for o in summary.outcomes}
    for name, status in expected.items():
        assert outcomes[name].status == status, (name, outcomes[name])
    # Lock and temp files are left alone, untouched.
    for name in ("~$商談メモ.docx", ".~lock.商談メモ.docx#", "download.crdownload"):
        assert (f.inbox / name).exists()
        assert name not in outcomes
    # Every original is kept byte for byte, in the archive or in quarantine.
    kept = {
        unicodedata.normalize("NFC", p.name): p
        for p in [*f.archive.iterdir(), *f.quarantine.iterdir()]
    }
    for name, digest in before.items():
        nfc = unicodedata.normalize("NFC", name)
        if nfc in ("~$商談メモ.docx", ".~lock.商談メモ.docx#", "download.crdownload"):
            continue
        assert nfc in kept, nfc
        if digest == "link":
            assert kept[nfc].is_symlink()
        else:
            assert _sha(kept[nfc]) == digest
        if expected[nfc] == "quarantined":
            assert (f.quarantine / f"{kept[nfc].name}.error.txt").exists()
    # The link was never followed: /etc/passwd unchanged and never sent.
    assert Path("/etc/passwd").stat().st_mtime == passwd_before.st_mtime
    assert "root:x:0:0" not in sent
    # The long PDF was read to its last page and processed in chunks, none refused for length.
    assert "第300ページ" in sent and "-300-END" in sent
    assert refused == 0
    long_doc = next(
        d for d in Store(settings.database_url or "").documents() if d.name == "300ページ.pdf"
    )
    assert long_doc.status == "drafted" and long_doc.chunks > 1
    # Drafts are readable documents.
    import docx

    for o in summary.outcomes:
        if o.status == "drafted":
            assert o.draft is not None
            drafted = docx.Document(str(o.draft.docx))
            # The 要確認 banner stands in the header of every page (issue 14), and the body has text.
            for section in drafted.sections:
                assert "要確認" in "\n".join(p.text for p in section.header.paragraphs)
            assert "\n".join(p.text for p in drafted.paragraphs).strip()
            assert len(o.draft.docx.name.encode()) <= 255
