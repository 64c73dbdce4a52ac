"""Spans -> placeholders ([人名1], [会社1], [メール1]...) consistent inside one document, and the
way back: restore() puts the original values into the model's output, locally.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from tasks.guard.spans import LABELS, Span, fold

PLACEHOLDER = re.compile(
    r"[\[［](" + "|".join(map(re.escape, LABELS.values())) + r")([0-9０-９]+)[\]］]"
)


class GuardResult(BaseModel):
    text: str  # what may be sent
    file_name: str | None = None  # the file name with the same masking (the prompt shows it)
    mapping: dict[str, str] = Field(default_factory=dict)  # placeholder -> original value
    counts: dict[str, int] = Field(default_factory=dict)  # category -> occurrences masked
    warnings: list[str] = Field(default_factory=list)  # Japanese lines for the draft
    confidential_label: str | None = None  # first configured label found, e.g. 社外秘
    injection: list[str] = Field(default_factory=list)  # instruction-like phrases found
    ner_chars: int = 0  # characters the NER model read (bounded by settings.guard.ner_max_chars)


@dataclass
class Masked:
    """A text with its spans replaced, and what each placeholder stands for."""

    text: str
    mapping: dict[str, str] = field(default_factory=dict)  # placeholder -> original value
    counts: dict[str, int] = field(default_factory=dict)  # category -> occurrences masked
    placeholders: list[str] = field(default_factory=list)  # one per span, in span order


# What does not change which name is meant: spaces, width, an honorific written onto it.
_HONORIFIC_TAIL = re.compile(r"(?:様|御中|殿|さん|氏|君|くん|各位)+$")


def name_key(value: str) -> str:
    """The same name however it is spaced or addressed: one placeholder for all of them."""
    key = unicodedata.normalize("NFKC", value).replace(" ", "").replace("\u3000", "")
    return _HONORIFIC_TAIL.sub("", key) or key


def mask(text: str, spans: list[Span]) -> Masked:
    """Replace each (sorted, non-overlapping) span; one placeholder per name and document, in
    the category it was first found as; the mapping restores its longest spelling."""
    mapping: dict[str, str] = {}
    by_key: dict[str, str] = {}
    numbers: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    out: list[str] = []
    used: list[str] = []
    pos = 0
    for s in spans:
        value = text[s.start : s.end]
        key = name_key(value)
        placeholder = by_key.get(key)
        if placeholder is None:
            numbers[s.category] += 1
            placeholder = by_key[key] = f"[{LABELS[s.category]}{numbers[s.category]}]"
            mapping[placeholder] = value
        elif len(value) > len(mapping[placeholder]):
            mapping[placeholder] = value
        counts[s.category] += 1
        used.append(placeholder)
        out += [text[pos : s.start], placeholder]
        pos = s.end
    out.append(text[pos:])
    return Masked("".join(out), mapping, dict(counts), used)


def restore(value: Any, mapping: dict[str, str]) -> Any:
    """Put the original values back into a model output (strings inside dicts and lists).

    One pass with a pattern, so [人名1] never matches inside [人名12], and full-width brackets
    (［人名1］, which models sometimes write) are restored too.
    """
    if not mapping:
        return value
    if isinstance(value, str):

        def repl(m: re.Match[str]) -> str:
            key = f"[{m.group(1)}{fold(m.group(2))}]"
            return mapping.get(key, m.group(0))

        return PLACEHOLDER.sub(repl, value)
    if isinstance(value, list):
        return [restore(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: restore(v, mapping) for k, v in value.items()}
    return value
