"""tasks/extract/ against real files: good ones in every format, and one per way to be bad."""

from __future__ import annotations

import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from core.errors import Refusal
from core.models import RefusalKind
from core.settings import IntakeSettings
from tasks.extract import SUPPORTED_SUFFIXES, clean_text, decode_text, extract_text
from tests.support.builders import (
    make_binary,
    make_docx,
    make_encrypted_docx,
    make_encrypted_pdf,
    make_exe,
    make_garbled_pdf,
    make_heavy_pdf,
    make_long_pdf,
    make_pdf,
    make_scanned_pdf,
    make_text,
    make_zip_bomb_docx,
    truncate,
)

LIMITS = IntakeSettings()
NFD_NAME = unicodedata.normalize("NFD", "パイロット議事録")


def refused(path: Path, limits: IntakeSettings = LIMITS) -> Refusal:
    """The Refusal for `path`, checked to carry both audiences' explanations."""
    with pytest.raises(Refusal) as info:
        extract_text(path, limits)
    refusal = info.value
    assert refusal.reason_ja.strip(), "the employee must be told why"
    assert refusal.detail.strip(), "IT must get a technical detail"
    return refusal


@pytest.fixture(scope="module")
def long_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_long_pdf(tmp_path_factory.mktemp("pdf") / "長い議事録.pdf", n_pages=300)


# ----------------------------------------------------------------------------- good files


def test_supported_suffixes() -> None:
    assert frozenset({".docx", ".pdf", ".txt", ".md"}) == SUPPORTED_SUFFIXES


def test_docx_keeps_document_order_tables_textboxes_and_header_footer(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / f"{NFD_NAME}.docx",
        [
            "冒頭の段落です。",
            [["氏名", "部署", "役割"], ["山田 太郎", "営業部", "司会"]],
            "表の後の段落です。",
        ],
        header="株式会社テスト 社内資料",
        footer="フッター 1/1",
        textboxes=["テキストボックスの注記"],
    )
    assert path.exists()  # the NFD name is opened as given

    doc = extract_text(path, LIMITS)

    assert doc.source_type == "docx"
    lines = doc.text.split("\n")
    assert lines == [
        "株式会社テスト 社内資料",
        "冒頭の段落です。",
        "氏名 | 部署 | 役割",
        "山田 太郎 | 営業部 | 司会",
        "表の後の段落です。",
        "テキストボックスの注記",  # once, although Word stores it twice
        "フッター 1/1",
    ]


def test_docx_uppercase_suffix_is_accepted(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "報告書.DOCX", ["本文"])
    assert extract_text(path, LIMITS).text == "本文"


@pytest.mark.parametrize(
    ("encoding", "bom", "expected_encoding"),
    [
        ("utf-8", False, "utf-8"),
        ("utf-8", True, "utf-8-sig"),
        ("cp932", False, "cp932"),
        ("euc-jp", False, "euc-jp"),
        ("utf-16-le", True, "utf-16-le"),
    ],
)
def test_text_encodings(tmp_path: Path, encoding: str, bom: bool, expected_encoding: str) -> None:
    text = "営業部 日報\r\n本日の会議の議事録です。出席者は山田と佐藤。\r\n"
    if encoding != "euc-jp":  # EUC-JP has no ①㈱髙 (they are Microsoft extensions)
        text += "①予算 ㈱田中商事 髙橋様\r\n"
    path = make_text(tmp_path / f"{NFD_NAME}_{encoding}.txt", text, encoding, bom=bom)

    doc = extract_text(path, LIMITS)

    assert doc.encoding == expected_encoding
    assert doc.source_type == "txt"
    assert doc.text == text.replace("\r\n", "\n").strip()


def test_cp932_extensions_need_cp932_not_shift_jis() -> None:
    data = "①㈱髙".encode("cp932")
    with pytest.raises(UnicodeDecodeError):
        data.decode("shift_jis")
    assert decode_text(data) == ("①㈱髙", "cp932")


def test_euc_jp_that_also_decodes_as_cp932_is_read_as_euc_jp() -> None:
    data = "議事録".encode("euc-jp")
    data.decode("cp932")  # valid cp932 too (as half-width kana): the order alone would fail
    assert decode_text(data) == ("議事録", "euc-jp")


def test_markdown(tmp_path: Path) -> None:
    path = make_text(tmp_path / "メモ.md", "# 見出し\n\n- 項目1\n- 項目2\n")
    doc = extract_text(path, LIMITS)
    assert (doc.source_type, doc.text) == ("md", "# 見出し\n\n- 項目1\n- 項目2")


def test_cleaning_strips_control_characters_and_normalises() -> None:
    nfd = unicodedata.normalize("NFD", "ガイドライン")
    raw = f"  {nfd}\r\n行\x07二\x0b\x00\ufffe\n\n\n\n最後\t末尾  \n"
    assert clean_text(raw) == "ガイドライン\n行二\n\n最後\t末尾"


def test_pdf_of_300_pages_is_read_to_the_last_page(long_pdf: Path) -> None:
    started = time.monotonic()
    doc = extract_text(long_pdf, LIMITS)
    elapsed = time.monotonic() - started

    assert doc.pages == 300
    assert doc.source_type == "pdf"
    assert "MARKER-1-END" in doc.text
    assert "MARKER-300-END" in doc.text
    assert "第300ページ 39行目 議事録の本文です。①㈱髙" in doc.text
    assert elapsed < 30, f"300 pages took {elapsed:.1f}s"


def test_pdf_pages_joined_by_blank_line(tmp_path: Path) -> None:
    doc = extract_text(make_pdf(tmp_path / f"{NFD_NAME}.pdf", ["一頁目", "二頁目"]), LIMITS)
    assert (doc.text, doc.pages) == ("一頁目\n\n二頁目", 2)


def test_pdf_with_empty_user_password_opens(tmp_path: Path) -> None:
    path = make_encrypted_pdf(tmp_path / "閲覧制限のみ.pdf", ["制限付き本文"], user_password="")
    assert extract_text(path, LIMITS).text == "制限付き本文"


# ----------------------------------------------------------------------------- refusals


def test_unsupported_type(tmp_path: Path) -> None:
    assert refused(make_exe(tmp_path / "setup.exe")).kind is RefusalKind.UNSUPPORTED_TYPE
    assert refused(make_binary(tmp_path / "表.xlsx")).kind is RefusalKind.UNSUPPORTED_TYPE
    assert refused(make_binary(tmp_path / "README")).kind is RefusalKind.UNSUPPORTED_TYPE


def test_empty_zero_bytes(tmp_path: Path) -> None:
    for suffix in sorted(SUPPORTED_SUFFIXES):
        path = tmp_path / f"空{suffix}"
        path.write_bytes(b"")
        assert refused(path).kind is RefusalKind.EMPTY


def test_empty_without_visible_text(tmp_path: Path) -> None:
    assert refused(make_text(tmp_path / "空白.txt", " \u3000\r\n\t\n")).kind is RefusalKind.EMPTY
    assert refused(make_docx(tmp_path / "空.docx", ["", "  "])).kind is RefusalKind.EMPTY
    assert refused(make_pdf(tmp_path / "白紙.pdf", ["", ""])).kind is RefusalKind.EMPTY


def test_too_large(tmp_path: Path) -> None:
    path = make_text(tmp_path / "大きい.txt", "あ" * 2000)
    refusal = refused(path, IntakeSettings(max_file_mb=0.001))
    assert refusal.kind is RefusalKind.TOO_LARGE


def test_too_many_pdf_pages(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "多い.pdf", [f"p{i}" for i in range(5)])
    assert refused(path, IntakeSettings(pdf_max_pages=3)).kind is RefusalKind.TOO_LARGE


@pytest.mark.parametrize("suffix", [".docx", ".pdf"])
def test_corrupt_random_bytes(tmp_path: Path, suffix: str) -> None:
    refusal = refused(make_binary(tmp_path / f"{NFD_NAME}{suffix}"))
    assert refusal.kind is RefusalKind.CORRUPT


def test_corrupt_zip_without_document(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "中身なし.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
    assert refused(path).kind is RefusalKind.CORRUPT


def test_corrupt_pdf_with_broken_xref(tmp_path: Path) -> None:
    path = make_binary(
        tmp_path / "壊れ.pdf", b"%PDF-1.7\n" + bytes(range(1, 200)) * 20 + b"\n%%EOF\n"
    )
    assert refused(path).kind is RefusalKind.CORRUPT


def test_unexpected_parser_error_becomes_corrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docx

    path = make_docx(tmp_path / "a.docx", ["本文"])

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(docx, "Document", explode)
    refusal = refused(path)
    assert refusal.kind is RefusalKind.CORRUPT
    assert "RuntimeError" in refusal.detail


def test_truncated_docx(tmp_path: Path) -> None:
    path = truncate(make_docx(tmp_path / f"{NFD_NAME}.docx", ["本文です。"] * 200))
    assert refused(path).kind is RefusalKind.TRUNCATED


def test_truncated_pdf(tmp_path: Path) -> None:
    path = truncate(make_pdf(tmp_path / f"{NFD_NAME}.pdf", [f"{i}ページ" for i in range(10)]))
    assert refused(path).kind is RefusalKind.TRUNCATED


def test_encrypted_pdf_aes256(tmp_path: Path) -> None:
    path = make_encrypted_pdf(tmp_path / "極秘.pdf", ["秘密の本文"], user_password="pw")
    refusal = refused(path)
    assert refusal.kind is RefusalKind.ENCRYPTED
    assert b"/AESV3" in path.read_bytes()


def test_encrypted_docx(tmp_path: Path) -> None:
    assert refused(make_encrypted_docx(tmp_path / "保護.docx")).kind is RefusalKind.ENCRYPTED


def test_scanned_pdf(tmp_path: Path) -> None:
    path = make_scanned_pdf(tmp_path / "スキャン.pdf", n_pages=2, caption="p1")
    assert refused(path).kind is RefusalKind.SCANNED


def test_binary_as_txt(tmp_path: Path) -> None:
    path = make_binary(tmp_path / "データ.txt", b"abc\x00\x01\x02def" * 10)
    assert refused(path).kind is RefusalKind.ENCODING


def test_exe_renamed_txt(tmp_path: Path) -> None:
    assert refused(make_exe(tmp_path / "readme.txt")).kind is RefusalKind.ENCODING


def test_undecodable_txt(tmp_path: Path) -> None:
    # No NUL, but invalid in UTF-8, cp932 and EUC-JP alike.
    path = make_binary(tmp_path / "謎.txt", b"\xff\xfd\xa0\x80\xfe" * 40)
    assert refused(path).kind is RefusalKind.ENCODING


def test_garbled_pdf_text_layer(tmp_path: Path) -> None:
    refusal = refused(make_garbled_pdf(tmp_path / "文字化け.pdf"))
    assert refusal.kind is RefusalKind.ENCODING
    assert "garbled text layer" in refusal.detail


def test_zip_bomb_by_ratio(tmp_path: Path) -> None:
    started = time.monotonic()
    path = make_zip_bomb_docx(tmp_path / "爆弾.docx", uncompressed_mb=200)
    refusal = refused(path)
    assert refusal.kind is RefusalKind.ZIP_BOMB
    assert "ratio" in refusal.detail
    assert time.monotonic() - started < 20


def test_zip_bomb_by_total_size(tmp_path: Path) -> None:
    path = make_zip_bomb_docx(tmp_path / "爆弾.docx", uncompressed_mb=5)
    limits = IntakeSettings(zip_max_total_mb=2, zip_max_ratio=1_000_000)
    refusal = refused(path, limits)
    assert refusal.kind is RefusalKind.ZIP_BOMB
    assert "zip_max_total_mb" in refusal.detail


def test_pdf_timeout(long_pdf: Path) -> None:
    started = time.monotonic()
    refusal = refused(long_pdf, IntakeSettings(pdf_timeout_seconds=0.2))
    assert refusal.kind is RefusalKind.TIMEOUT
    assert time.monotonic() - started < 10, "the child must be killed, not waited for"


@pytest.mark.slow
def test_pdf_memory_bound(tmp_path: Path) -> None:
    path = make_heavy_pdf(tmp_path / "重い.pdf", content_mb=20)
    refusal = refused(path, IntakeSettings(pdf_memory_mb=160, pdf_timeout_seconds=60))
    assert refusal.kind is RefusalKind.TIMEOUT
    assert "memory" in refusal.detail


def test_module_import_stays_light() -> None:
    code = (
        "import sys, tasks.extract; "
        "heavy = {'pypdf', 'docx', 'lxml.etree', 'reportlab'} & set(sys.modules); "
        "assert not heavy, heavy; "
        # The forkserver preloads `tasks.extract`: the PDF reader's child target comes with it.
        "assert 'tasks.extract.pdf' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
