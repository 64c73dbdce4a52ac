"""Guard: what may leave the machine. Runs before every model call.

Personal data is replaced by consistent placeholders ([メール1], [電話1]) before the text is sent,
and put back locally in the draft, so the reader sees real values while the model never did.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, Field

from teichaku.settings import Settings
from teichaku.specs import PromptSpec

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# Japanese phone numbers: fixed, mobile, free-dial; hyphens, spaces or brackets; no \b, because
# a number right after 「連絡先：」 has no word boundary in Python's Unicode sense.
_PHONE = re.compile(
    r"(?<![0-9０-９])(?:\+81[-\s]?)?[(（]?0[0-9０-９]{1,4}[)）]?[-‐－ー\s]?[0-9０-９]{1,4}[-‐－ー\s]?[0-9０-９]{3,4}(?![0-9０-９])"
)


class GuardResult(BaseModel):
    text: str  # what may be sent
    mapping: dict[str, str] = Field(default_factory=dict)  # placeholder -> original value
    counts: dict[str, int] = Field(default_factory=dict)  # category -> how many masked
    warnings: list[str] = Field(default_factory=list)  # Japanese lines for the draft


def _mask(text: str, pattern: re.Pattern[str], label: str, mapping: dict[str, str], counts: Counter[str]) -> str:
    seen: dict[str, str] = {v: k for k, v in mapping.items()}

    def repl(m: re.Match[str]) -> str:
        value = m.group(0)
        if value not in seen:
            counts[label] += 1
            placeholder = f"[{label}{counts[label]}]"
            seen[value] = placeholder
            mapping[placeholder] = value
        return seen[value]

    return pattern.sub(repl, text)


def guard_text(text: str, spec: PromptSpec, settings: Settings) -> GuardResult:
    """Mask what must not leave the machine. The offline engine gets the same treatment (uniform)."""
    mapping: dict[str, str] = {}
    counts: Counter[str] = Counter()
    masked = _mask(text, _EMAIL, "メール", mapping, counts)
    masked = _mask(masked, _PHONE, "電話", mapping, counts)
    return GuardResult(text=masked, mapping=mapping, counts=dict(counts))


def restore(value: Any, mapping: dict[str, str]) -> Any:
    """Put the original values back into a model output (strings inside dicts and lists)."""
    if not mapping:
        return value
    if isinstance(value, str):
        for placeholder, original in mapping.items():
            value = value.replace(placeholder, original)
        return value
    if isinstance(value, list):
        return [restore(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: restore(v, mapping) for k, v in value.items()}
    return value
