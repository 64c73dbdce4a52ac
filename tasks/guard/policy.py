"""What may leave the machine, and to which engine: confidentiality labels (社外秘, 極秘...),
the block / local_only / allow policy of the spec, department or default, the send_external
switches, and instruction-like text in a document (flagged in the draft, never obeyed).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Literal

from core.engine import Engine
from core.errors import Refusal
from core.models import RefusalKind
from core.settings import Settings
from core.specs import PromptSpec
from tasks.guard.masking import GuardResult
from tasks.guard.spans import fold

log = logging.getLogger(__name__)

_INJECTION = [
    re.compile(p, re.I)
    for p in (
        r"(?:以上|上記|これまで|今まで|前|以前|先ほど|直前)の(?:すべての|全ての|全)?(?:指示|命令|指令|ルール|設定)を(?:無視|忘れ|破棄|取り消)",
        r"(?:指示|命令|ルール)を(?:すべて|全て)?無視(?:して|せよ|しろ|してください)",
        r"システム\s*プロンプト",
        r"あなたは(?:今から|これから|今後)",
        r"(?:開発者|管理者|デバッグ)モード",
        r"ignore\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|above|earlier|preceding)\s+(?:instructions|prompts?|rules)",
        r"disregard\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|above|earlier)\s+(?:instructions|prompts?|rules)",
        r"system\s+prompt",
        r"you\s+are\s+now\b",
        r"jailbreak",
        r"(?:出力|回答)(?:の最後|の末尾|の先頭)?に(?:次の|以下の)(?:文|URL|リンク)を(?:追加|記載|挿入)",
    )
]

INJECTION_WARNING_JA = (
    "この文書には AI への指示のような文（例:「{phrase}」）が含まれています。AI はこれに従わないよう設定されて"
    "いますが、下書きの内容が原文と食い違っていないか、特に注意して確認してください。"
)
ROUTED_LOCAL_JA = (
    "「{label}」の表示があるため、社外の AI には送らず、社内のエンジン（{engine}）で作成しました。"
)
EXTERNAL_OFF_JA = (
    "この部署の設定により社外の AI には送らず、社内のエンジン（{engine}）で作成しました。"
)
BLOCKED_JA = (
    "「{label}」の表示があるため、{department}の規則（AI処理禁止）により AI 処理を行いません。"
    "機密文書は AI に入れないでください。必要な場合は DX推進室に相談してください。"
)


def confidential_label(text: str, settings: Settings) -> str | None:
    """The first configured label (社外秘, Confidential...) found in the text, or None."""
    for label in settings.guard.labels:
        if label.isascii():
            if re.search(rf"(?<![A-Za-z]){re.escape(label)}(?![A-Za-z])", text, re.I):
                return label
        elif label in text:
            return label
    return None


def injection_phrases(text: str) -> list[str]:
    folded = fold(text)
    found: list[str] = []
    for pattern in _INJECTION:
        m = pattern.search(folded)
        if m and text[m.start() : m.end()] not in found:
            found.append(text[m.start() : m.end()])
    return found


def policy_for(spec: PromptSpec | None, settings: Settings) -> str:
    """block | local_only | allow: the spec's own, else its department's, else the default
    (also for a document that belongs to no spec, as `teichaku mask` may preview)."""
    if spec is None:
        return settings.guard.default_policy
    if spec.confidentiality is not None:
        return spec.confidentiality
    dept = settings.guard.departments.get(spec.department)
    if dept is not None and dept.policy is not None:
        return dept.policy
    return settings.guard.default_policy


def external_allowed(spec: PromptSpec | None, settings: Settings) -> bool:
    if spec is None:
        return settings.guard.send_external
    dept = settings.guard.departments.get(spec.department)
    dept_ok = dept.send_external if dept is not None and dept.send_external is not None else True
    return settings.guard.send_external and dept_ok and spec.allow_external


def engine_is_local(engine: Engine, settings: Settings) -> bool:
    """The offline engine, or an endpoint the operator marked as running inside the company."""
    return getattr(engine, "name", "") == "offline" or settings.llm.endpoint_is_local


Destination = Literal["external", "local_only", "blocked"]


@dataclass(frozen=True)
class Decision:
    """Where a document may go: `external` (the configured endpoint as it is), `local_only`
    (a local engine only) or `blocked` (no model at all), with the Japanese reason."""

    destination: Destination
    policy: str  # block | local_only | allow (allow when no label was found)
    reason_ja: str


def decide(
    spec: PromptSpec | None,
    settings: Settings,
    label: str | None,
    local_engine: str = "オフライン抽出",
) -> Decision:
    """The routing decision for a document with this confidentiality label (or none);
    `local_engine` names the engine a document kept inside goes to, for the reason."""
    policy = policy_for(spec, settings) if label else "allow"
    if policy == "block":
        department = spec.department_name if spec is not None else "ワークスペース全体"
        reason = BLOCKED_JA.format(label=label, department=department)
        return Decision("blocked", policy, reason)
    if policy == "local_only":
        return Decision(
            "local_only", policy, ROUTED_LOCAL_JA.format(label=label, engine=local_engine)
        )
    if not external_allowed(spec, settings):
        return Decision("local_only", policy, EXTERNAL_OFF_JA.format(engine=local_engine))
    return Decision("external", policy, "")


@dataclass(frozen=True)
class Route:
    """The engine a document goes to, and the lines its draft must carry about the choice."""

    engine: Engine
    notes: list[str] = field(default_factory=list)


def route_engine(
    engine: Engine, spec: PromptSpec, settings: Settings, guarded: GuardResult
) -> Route:
    """The engine this document may go to; raises Refusal(CONFIDENTIAL) under a block policy."""
    label = guarded.confidential_label
    decision = decide(spec, settings, label)
    if decision.destination == "blocked":
        raise Refusal(
            RefusalKind.CONFIDENTIAL,
            detail=f"confidential label {label!r}; policy block (spec {spec.id})",
            reason_ja=decision.reason_ja,
        )
    if decision.destination == "external" or engine_is_local(engine, settings):
        return Route(engine)
    # Here, not at the top: the offline engine compiles its patterns on import (0.1-0.3 s,
    # python -X importtime), which the workers' forkserver importing the guard never needs.
    from tasks.generate import build_engine

    log.info("spec %s: routed to the offline engine (policy %s)", spec.id, decision.policy)
    return Route(build_engine(settings, "offline"), [decision.reason_ja])
