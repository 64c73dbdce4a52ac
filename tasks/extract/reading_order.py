"""Reading order shared by the readers that place text by its position on a page.

OCR boxes (`ocr.py`) and pdfminer's text lines (`pdf_layers.py`) are both grouped into rows or
tiers (段) by vertical overlap before each group is read across; one rule serves both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def tiers(items: list[T], span: Callable[[T], tuple[float, float]]) -> list[list[T]]:
    """`items`, already in top-to-bottom order, grouped by vertical overlap.

    `span(item)` is its (top, bottom) with y growing downward. An item joins the last group
    when it overlaps the group's extent by more than half the smaller of the two heights.
    """
    groups: list[list[T]] = []
    for item in items:
        top, bottom = span(item)
        if groups:
            last_top = min(span(i)[0] for i in groups[-1])
            last_bottom = max(span(i)[1] for i in groups[-1])
            overlap = min(bottom, last_bottom) - max(top, last_top)
            if overlap > 0.5 * min(bottom - top, last_bottom - last_top):
                groups[-1].append(item)
                continue
        groups.append([item])
    return groups
