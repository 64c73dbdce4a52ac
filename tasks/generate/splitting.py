"""Cutting a document longer than the context window into pieces that fit, never dropping text.

Token counts are estimates (no tokenizer is bundled): conservative for Japanese, so a piece
that fits the estimate fits the endpoint.
"""

from __future__ import annotations

import math
import re
from typing import Any

MIN_SPLIT_TOKENS = 64  # below this a piece is not split again: the context is misconfigured

_SENTENCE_END_RE = re.compile(r"(?<=[。！？!?．])|(?<=\.\s)")


def estimate_tokens(text: str) -> int:
    """1 token per non-ASCII char, 1 per 4 ASCII chars: conservative for Japanese tokenizers."""
    ascii_chars = len(text.encode("ascii", "ignore"))  # the characters below U+0080, counted in C
    return (len(text) - ascii_chars) + math.ceil(ascii_chars / 4)


def _hard_windows(text: str, budget: int) -> list[str]:
    # Each char is at most one token, so `budget` chars always fit.
    return [text[i : i + budget] for i in range(0, len(text), budget)]


def _units(text: str, budget: int) -> list[str]:
    """Lines (newline kept), then sentences, then fixed windows: pieces that each fit."""
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        if estimate_tokens(line) <= budget:
            out.append(line)
            continue
        for sentence in _SENTENCE_END_RE.split(line):
            if not sentence:
                continue
            if estimate_tokens(sentence) <= budget:
                out.append(sentence)
            else:
                out.extend(_hard_windows(sentence, budget))
    return out


def _pack(units: list[tuple[str, int]], limit: int) -> list[str]:
    chunks: list[str] = []
    cur: list[str] = []
    cur_tokens = 0
    for unit, tokens in units:
        if cur and cur_tokens + tokens > limit:
            chunks.append("".join(cur))
            cur, cur_tokens = [], 0
        cur.append(unit)
        cur_tokens += tokens
    if cur:
        chunks.append("".join(cur))
    return chunks


def split_text(text: str, budget: int) -> list[str]:
    """Chunks of at most `budget` estimated tokens, cut at line/sentence boundaries.

    "".join(chunks) == text always: nothing is dropped.
    """
    budget = max(budget, 1)
    if estimate_tokens(text) <= budget:
        return [text]
    units = [(u, estimate_tokens(u)) for u in _units(text, budget)]
    chunks = _pack(units, budget)
    if len(chunks) > 1:
        # Greedy packing leaves a small last chunk; even sizes finish the parallel map sooner.
        total = sum(t for _, t in units)
        target = math.ceil(total / len(chunks))
        for slack in (1.0, 1.1, 1.25):
            even = _pack(units, min(budget, math.ceil(target * slack)))
            if len(even) == len(chunks):
                return even
    return chunks


def group_evenly(sized: list[tuple[Any, int]], budget: int) -> list[list[Any]]:
    """Consecutive groups of at most `budget` tokens, as few and as even as greedy allows."""

    def pack(limit: int) -> list[list[Any]]:
        groups: list[list[Any]] = []
        cur: list[Any] = []
        cur_tokens = 0
        for item, tokens in sized:
            if cur and cur_tokens + tokens > limit:
                groups.append(cur)
                cur, cur_tokens = [], 0
            cur.append(item)
            cur_tokens += tokens
        if cur:
            groups.append(cur)
        return groups

    greedy = pack(budget)
    if len(greedy) > 1:
        target = math.ceil(sum(t for _, t in sized) / len(greedy))
        for slack in (1.0, 1.1, 1.25):
            even = pack(min(budget, math.ceil(target * slack)))
            if len(even) == len(greedy):
                return even
    return greedy


def split_in_half(text: str) -> list[str]:
    """Two pieces joined back to `text`, cut at the line or sentence end nearest the middle."""
    mid = len(text) // 2
    best: int | None = None
    for pattern in (r"\n", r"[。！？!?．]"):
        positions = [m.end() for m in re.finditer(pattern, text) if 0 < m.end() < len(text)]
        if positions:
            best = min(positions, key=lambda p: abs(p - mid))
            if abs(best - mid) <= len(text) // 4:
                break
    cut = best if best is not None and abs(best - mid) <= len(text) // 4 else mid
    cut = min(max(cut, 1), len(text) - 1)
    return [text[:cut], text[cut:]]
