"""OCR number clean-up: what OCR gets wrong in figures is undone, and no digit is ever added."""

from __future__ import annotations

import re

import pytest

from tasks.extract.ocr_text import clean_ocr_text


@pytest.mark.parametrize(
    ("ocr", "expected"),
    [
        ("装 置 本 体 3.860,000 円", "装置本体3,860,000円"),  # a comma read as a period
        ("合 計 180,.000 円", "合計180,000円"),  # one separator read twice
        ("④②⑧0,.000円", "4,280,000円"),  # circled digits, a dropped and a doubled separator
        ("申 請 日 ⑳②⑤ 年 ④ 月 ①⑧ 日", "申請日2025年4月18日"),
        ("３，８６０，０００円", "3,860,000円"),  # full-width digits and separators
        ("12.345.678円", "12,345,678円"),  # two periods cannot be a decimal
        ("1O0個", "100個"),  # O between digits is a zero
        ("ヒ一タ一交換", "ヒーター交換"),  # kanji 一 between katakana is the long vowel
        ("Hello World 1.5 kg", "Hello World 1.5 kg"),  # Latin spacing and decimals stay
        ("1,234.56円", "1,234.56円"),
        ("電話 03-1234-5678", "電話03-1234-5678"),
        ("2025.4.18", "2025.4.18"),  # not a thousands grouping: left as read
    ],
)
def test_clean_ocr_text(ocr: str, expected: str) -> None:
    assert clean_ocr_text(ocr) == expected


@pytest.mark.parametrize(
    "ocr", ["3.860,000円", "180,.000", "④②⑧0,.000円", "１２３", "1O0個", "0.8%から0.3%へ", "12 345"]
)
def test_never_invents_a_digit(ocr: str) -> None:
    import unicodedata

    def digits(s: str) -> str:
        return re.sub(r"\D", "", unicodedata.normalize("NFKC", s).replace("O", "0"))

    assert digits(clean_ocr_text(ocr)) == digits(ocr)
