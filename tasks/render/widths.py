"""Table column widths from the content, so a long タスク column gets the room and 担当 / 期限
do not sit half empty while it wraps to five lines (Word's equal split did exactly that)."""

from __future__ import annotations

import unicodedata

# A cell longer than this (in half-width units) wraps anyway; beyond it, more text should not
# claim more of the page.
_CAP = 60
# Cell margins of the Table Grid style (108 twips each side) are about two half-width units,
# and a renderer measuring a little wider than we do must not wrap 「12月4日（金）」.
_PADDING = 3


def display_width(text: str) -> int:
    """Half-width units of the longest line: kanji and kana count 2, ASCII 1."""
    best = 0
    for line in text.splitlines() or [""]:
        w = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
        best = max(best, w)
    return best


def column_widths(header: list[str], rows: list[list[str]], total: int) -> list[int]:
    """Widths (in the unit of `total`, e.g. twips) that add up to `total`.

    Each column asks for its longest cell (capped) and at least its heading; columns that fit
    in a fair share keep what they ask, the rest share what is left in proportion to their ask.
    """
    n = len(header)
    if n == 0:
        return []
    floor = [display_width(h) + _PADDING for h in header]
    ask = [
        max(
            floor[i],
            min(max((display_width(r[i]) for r in rows if i < len(r)), default=0), _CAP) + _PADDING,
        )
        for i in range(n)
    ]
    units = _fill(ask, floor)
    scale = total / sum(units)
    widths = [int(u * scale) for u in units]
    widths[-1] += total - sum(widths)  # rounding goes to the last column
    return widths


def _fill(ask: list[int], floor: list[int]) -> list[float]:
    # The page is about 80 half-width units wide at 10.5 pt between 30 mm margins.
    budget = max(80, sum(floor))
    if sum(ask) <= budget:
        return [float(a) for a in ask]
    fixed: dict[int, float] = {}
    while True:
        flex = [i for i in range(len(ask)) if i not in fixed]
        left = budget - sum(fixed.values())
        fair = left / len(flex)
        small = [i for i in flex if ask[i] <= fair]
        if not small or len(small) == len(flex):
            break
        for i in small:
            fixed[i] = float(ask[i])
    flex = [i for i in range(len(ask)) if i not in fixed]
    left = budget - sum(fixed.values())
    total_ask = sum(ask[i] for i in flex)
    out = [0.0] * len(ask)
    for i, v in fixed.items():
        out[i] = v
    for i in flex:
        out[i] = max(float(floor[i]), left * ask[i] / total_ask)
    return out
