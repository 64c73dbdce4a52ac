"""What every detector yields and the masking reads: a span of text and its category.

Imports nothing of the guard; every other guard module imports this one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# category id (counts, audit) -> placeholder label (what the model sees)
LABELS: dict[str, str] = {
    "email": "メール",
    "phone": "電話",
    "my_number": "マイナンバー",
    "card": "カード番号",
    "bank_account": "口座番号",
    "address": "住所",
    "company": "会社",
    "person": "人名",
    # A proper noun the guard cannot tell is a company or a person (聖徳太子, 羽田空港, a product
    # name): held back all the same, under its own name so the model is not told it is a company.
    "proper_noun": "固有名",
}
# On equal length the more specific detector wins (a card number is not a phone number).
PRIORITY = {cat: i for i, cat in enumerate(LABELS)}

# -- width folding ----------------------------------------------------------------------------
# Full-width ASCII and dash variants map 1:1 to ASCII, so offsets in the folded copy are offsets
# in the original: patterns are written once, for ASCII.
_FOLD = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_FOLD.update({ord(c): ord("-") for c in "‐‑‒–—―−ー－"})
_FOLD[0x3000] = ord(" ")


def fold(text: str) -> str:
    return text.translate(_FOLD)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    category: str

    @property
    def length(self) -> int:
        return self.end - self.start


def occurrences(text: str, values: Iterable[str], category: str) -> Iterator[Span]:
    """Every occurrence of every value (two characters or more): a name found once is masked
    wherever it is written."""
    for v in sorted(set(values), key=len, reverse=True):
        if len(v) < 2:
            continue
        start = text.find(v)
        while start >= 0:
            yield Span(start, start + len(v), category)
            start = text.find(v, start + len(v))


def resolve(spans: Iterable[Span], n: int) -> list[Span]:
    """Non-overlapping spans: longest first, then the more specific category, then leftmost."""
    taken = bytearray(n)
    kept: list[Span] = []
    for s in sorted(set(spans), key=lambda s: (-s.length, PRIORITY[s.category], s.start)):
        if s.length <= 0 or any(taken[s.start : s.end]):
            continue
        taken[s.start : s.end] = b"\x01" * s.length
        kept.append(s)
    return sorted(kept, key=lambda s: s.start)
