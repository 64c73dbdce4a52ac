"""Guard: what may leave the machine. Runs before every model call.

Personal data and client names are replaced by consistent placeholders ([人名1], [会社1],
[メール1]) before the text is sent, and put back locally in the draft, so the reader sees real
values while the model never did. Confidentiality labels (社外秘, 極秘...) decide whether a
document may go to the model at all, and to which one. Instruction-like text is flagged.

The rooms: `patterns` (structured data: mail, phone, My Number, card, account, address),
`names` (persons and companies from legal forms, fields, honorifics and titles, and what GiNZA's
NER labelled), `tagged` (names from the SudachiPy dictionary's proper-noun tags, joined into
units: モティラル・ネルー, 日本航空, IBM), `ner` (GiNZA, loaded once per process), `lists` (the
workspace's client list and employee directory), `detect` (all of them over one text),
`masking` (spans -> one placeholder per name, restore), `policy` (labels, routing, injection).
Imports core, and the offline engine (tasks.generate) when it routes a document there.
"""

from __future__ import annotations

from typing import Any

from core.settings import Settings
from core.specs import PromptSpec
from tasks.guard import ner
from tasks.guard.detect import NER_PARTIAL_JA, NER_UNAVAILABLE_JA, detect
from tasks.guard.lists import client_names, directory_names
from tasks.guard.masking import GuardResult, Masked, mask, restore
from tasks.guard.ner import warm_up
from tasks.guard.patterns import luhn_ok as _luhn_ok
from tasks.guard.patterns import my_number_ok as _my_number_ok
from tasks.guard.policy import (
    BLOCKED_JA,
    EXTERNAL_OFF_JA,
    INJECTION_WARNING_JA,
    ROUTED_LOCAL_JA,
    Decision,
    Route,
    confidential_label,
    decide,
    engine_is_local,
    external_allowed,
    injection_phrases,
    policy_for,
    route_engine,
)
from tasks.guard.spans import LABELS, Span

__all__ = [
    "BLOCKED_JA",
    "EXTERNAL_OFF_JA",
    "INJECTION_WARNING_JA",
    "LABELS",
    "NER_PARTIAL_JA",
    "NER_UNAVAILABLE_JA",
    "ROUTED_LOCAL_JA",
    "Decision",
    "GuardResult",
    "Masked",
    "Route",
    "Span",
    "_luhn_ok",
    "_my_number_ok",
    "client_names",
    "confidential_label",
    "decide",
    "detect",
    "directory_names",
    "engine_is_local",
    "external_allowed",
    "guard_text",
    "injection_phrases",
    "mask",
    "policy_for",
    "restore",
    "route_engine",
    "warm_up",
]


def __getattr__(name: str) -> Any:
    # `tasks.guard._NLP` (the loaded model or None) is read by tests/flows/test_pool.py; it lives
    # in tasks.guard.ner and changes after import, so it is looked up there each time.
    if name == "_NLP":
        return ner._NLP
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def guard_text(
    text: str, spec: PromptSpec | None, settings: Settings, *, file_name: str | None = None
) -> GuardResult:
    """Mask what must not leave the machine. The offline engine gets the same treatment (uniform)."""
    label = confidential_label(f"{file_name or ''}\n{text}", settings)
    phrases = injection_phrases(text)
    warnings = [INJECTION_WARNING_JA.format(phrase=phrases[0][:30])] if phrases else []
    if not settings.guard.enabled:
        return GuardResult(
            text=text,
            file_name=file_name,
            warnings=warnings,
            confidential_label=label,
            injection=phrases,
        )
    # The file name is part of the prompt, so it is masked together with the text (first line).
    combined = f"{file_name}\n{text}" if file_name is not None else text
    spans, detect_warnings, ner_chars = detect(combined, settings)
    masked = mask(combined, spans)
    body, masked_name = masked.text, None
    if file_name is not None:
        masked_name, _, body = body.partition("\n")
    return GuardResult(
        text=body,
        file_name=masked_name,
        mapping=masked.mapping,
        counts=masked.counts,
        warnings=warnings + detect_warnings,
        confidential_label=label,
        injection=phrases,
        ner_chars=ner_chars,
    )
