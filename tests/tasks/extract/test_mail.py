"""E-mail: headers, every Japanese legacy charset, HTML-only bodies, quotes, attachments."""

from __future__ import annotations

from pathlib import Path

from core.models import RefusalKind
from tasks.extract import extract_text
from tasks.extract.mail import QUOTE_END, QUOTE_START, decode_iso2022jp, decode_part
from tests.support.builders import make_binary
from tests.support.office_docs import FACTS, make_html_eml, make_iso2022_eml, make_sjis_eml
from tests.tasks.extract.helpers import LIMITS, refused


def test_iso2022jp_reply_with_quote_and_attachments(tmp_path: Path) -> None:
    memo = "添付のメモ：検査は月2回、抜取数は20個。".encode()
    doc = extract_text(make_iso2022_eml(tmp_path / "見積.eml", attachment=memo), LIMITS)
    text = doc.text
    assert text.startswith(
        "件名：Re: 検査装置のお見積りについて\n差出人：森 <mori@aoba-seiko.example>"
    )
    assert "日付：2025年8月22日 9:30" in text
    for fact in FACTS["iso2022_eml"]:
        assert fact in text, fact
    # The old message is marked as a quotation, after the new one.
    quote = text.index(QUOTE_START)
    assert text.index("4,750,000円") < quote < text.index("台数は30台") < text.index(QUOTE_END)
    # A readable attachment is read after the body, named; the others are listed by name.
    assert text.index(QUOTE_END) < text.index("■ 添付ファイル「仕様メモ.txt」")
    assert "抜取数は20個" in text
    assert "図面一式.zip" in text and any("図面一式.zip" in w for w in doc.warnings)


def test_html_only_body_becomes_text(tmp_path: Path) -> None:
    doc = extract_text(make_html_eml(tmp_path / "出荷.eml"), LIMITS)
    assert "梱包資材 | 45箱 | 128,600円" in doc.text  # a table row, cells kept apart
    assert "・出荷日：10月9日" in doc.text
    assert "alert" not in doc.text and "color:red" not in doc.text and "<p>" not in doc.text
    for fact in FACTS["html_eml"]:
        assert fact in doc.text, fact


def test_shift_jis_label_is_read_as_cp932(tmp_path: Path) -> None:
    doc = extract_text(make_sjis_eml(tmp_path / "議事.eml", "①議題 ㈱テスト 髙橋"), LIMITS)
    assert "①議題 ㈱テスト 髙橋" in doc.text


def test_iso2022jp_with_outlook_extensions_and_bad_bytes() -> None:
    # NEC row 13 (①, ㈱) inside ISO-2022-JP is CP50220, which a strict decoder refuses.
    assert decode_iso2022jp(b"\x1b$B-!-j\x1b(B") == "①㈱"
    assert decode_iso2022jp("見積".encode("iso-2022-jp")) == "見積"
    # One bad byte costs one character, never the body.
    assert decode_part(
        "会議".encode("cp932") + b"\x81" + "資料".encode("cp932"), "shift_jis"
    ).startswith("会議")
    assert decode_part("予定".encode("euc-jp"), "EUC-JP") == "予定"


def test_broken_and_encrypted_mail_are_refused(tmp_path: Path) -> None:
    assert refused(make_binary(tmp_path / "壊れた.eml", seed=4)).kind is RefusalKind.CORRUPT
    smime = tmp_path / "暗号.eml"
    smime.write_bytes(
        b"From: a@example.co.jp\r\nSubject: secret\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nMIAGCSqGSIb3\r\n"
    )
    assert refused(smime).kind is RefusalKind.ENCRYPTED
    assert refused(make_binary(tmp_path / "壊れた.msg", seed=5)).kind is RefusalKind.CORRUPT
