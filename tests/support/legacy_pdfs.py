"""Japanese PDFs as older tools wrote them: non-Unicode CMaps (EUC-H, 90ms-RKSJ) and 縦書き.

reportlab's CID fonts (HeiseiMin-W3, not embedded, the Adobe-Japan1 collection) write the
text's bytes in the CMap's own encoding, as old typesetting and gazette systems did; pypdf does
not know EUC-H and decodes it to Hangul and private-use characters. A vertical CMap (-V) draws
each string top to bottom; a page set like the official gazette (官報) has tiers (段), each with
columns read right to left.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

_CODECS = {"EUC": "euc_jp", "90ms-RKSJ": "cp932"}

GAZETTE_TIERS = [
    [
        "官報　令和七年六月二日　月曜日　第一千二百三十四号",
        "告示　補助金の交付決定について",
        "交付額は金三百八十六万円とし、令和七年七月十五日までに交付する。",
    ],
    [
        "公告　入札の実施について",
        "予定数量は百二十台、開札は令和七年八月四日午前十時とする。",
    ],
]
# No era name among the facts: the guard masks 「令和」 as a proper noun (「[固有名1]七年」).
GAZETTE_FACTS = [
    "第一千二百三十四号",
    "金三百八十六万円",
    "七年七月十五日",
    "百二十台",
    "七年八月四日",
]
HORIZONTAL_LINES = [
    "議事録　2025年6月2日　第1234回 定例会",
    "決定：予算 3,860,000円 を承認する。",
    "数量 12台、納期 2025年6月30日。",
]
HORIZONTAL_FACTS = ["2025年6月2日", "第1234回", "3,860,000円", "12台", "2025年6月30日"]


def _font(encoding: str) -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import CIDFont

    font = CIDFont("HeiseiMin-W3", encoding)
    pdfmetrics.registerFont(font)
    return font.fontName


def _encode(text: str, encoding: str) -> str:
    # reportlab passes a non-Unicode CID font's string through byte for byte.
    codec = _CODECS[encoding.rsplit("-", 1)[0]]
    return text.encode(codec).decode("latin-1")


def make_cmap_pdf(path: Path, lines: Sequence[str], encoding: str = "EUC-H") -> Path:
    """Horizontal lines set in a CID font with a non-Unicode CMap (EUC-H, 90ms-RKSJ-H)."""
    from reportlab.pdfgen import canvas

    path.parent.mkdir(parents=True, exist_ok=True)
    c = canvas.Canvas(str(path))
    c.setFont(_font(encoding), 12)
    for i, line in enumerate(lines):
        c.drawString(50, 780 - i * 24, _encode(line, encoding))
    c.showPage()
    c.save()
    return path


def make_vertical_pdf(
    path: Path, tiers: Sequence[Sequence[str]], encoding: str = "EUC-V", size: float = 11
) -> Path:
    """A 縦書き page: tiers top to bottom, in each tier one column per string, right to left."""
    from reportlab.pdfgen import canvas

    path.parent.mkdir(parents=True, exist_ok=True)
    c = canvas.Canvas(str(path))
    c.setFont(_font(encoding), size)
    top = 800
    for tier in tiers:
        longest = max(len(s) for s in tier)
        for i, column in enumerate(tier):
            c.drawString(540 - i * size * 1.8, top, _encode(column, encoding))
        top -= longest * size + 30
    c.showPage()
    c.save()
    return path
