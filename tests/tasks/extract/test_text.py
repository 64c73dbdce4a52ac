"""tasks/extract/text.py against real .txt/.md files in every Japanese encoding, and binary ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.models import RefusalKind
from tasks.extract import (
    decode_text,
    extract_text,
)
from tests.support.builders import (
    make_binary,
    make_exe,
    make_text,
)
from tests.tasks.extract.helpers import LIMITS, NFD_NAME, refused


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


def test_binary_as_txt(tmp_path: Path) -> None:
    path = make_binary(tmp_path / "データ.txt", b"abc\x00\x01\x02def" * 10)
    assert refused(path).kind is RefusalKind.ENCODING


def test_exe_renamed_txt(tmp_path: Path) -> None:
    assert refused(make_exe(tmp_path / "readme.txt")).kind is RefusalKind.ENCODING


def test_undecodable_txt(tmp_path: Path) -> None:
    # No NUL, but invalid in UTF-8, cp932 and EUC-JP alike.
    path = make_binary(tmp_path / "謎.txt", b"\xff\xfd\xa0\x80\xfe" * 40)
    assert refused(path).kind is RefusalKind.ENCODING
