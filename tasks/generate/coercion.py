"""A model's answer into the spec's output: JSON found in the reply, brought within the spec's
bounds, and the review reasons (Japanese, shown in the draft) when it had to be changed."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from core.specs import OutputField, PromptSpec

REVIEW_UNPARSABLE = (
    "AIの出力を読み取れなかったため、内容が空です。原文から作成するか、再処理してください。"
)
REVIEW_LENGTH = "AIの出力が長さの上限に達して途中で切れたため、内容が欠けている可能性があります。原文と照合してください。"
REVIEW_FILTER = "AIの出力がコンテンツフィルター（安全機能）で止められたため、内容が欠けています。原文から確認してください。"
REVIEW_TRUNCATED = "AIの出力が出力形式の上限（文字数・項目数）を超えたため、一部を切り詰めました（{fields}）。原文と照合してください。"
REVIEW_MISSING = "AIの出力に次の項目がありませんでした：{fields}。原文から補ってください。"
REVIEW_PART_FAILED = "長い文書を分割して処理しましたが、一部の部分（{parts}）の出力を読み取れませんでした。その部分の内容が欠けている可能性があります。"
REVIEW_MERGED = "分割した部分ごとの結果をAIで統合できなかったため、機械的に連結しました。重複や順序を確認してください。"

_FENCE_RE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```\s*$", re.S)


def parse_json_object(content: str | None) -> dict[str, Any] | None:
    if not content:
        return None
    s = content.strip()
    m = _FENCE_RE.match(s)
    if m:
        s = m.group(1).strip()
    candidates = [s]
    start, end = s.find("{"), s.rfind("}")
    if 0 <= start < end:
        candidates.append(s[start : end + 1])  # prose around the object (prompt mode)
    for c in candidates:
        try:
            obj = json.loads(c)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def _as_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "\n".join(_as_text(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def empty_output(spec: PromptSpec) -> dict[str, Any]:
    return spec.output_model().model_dump(mode="json")


def _coerce_rows(f: OutputField, v: Any) -> list[dict[str, str]]:
    cols = [c.name for c in f.columns or []]
    rows = v if isinstance(v, list) else [v] if v else []
    new = []
    for row in rows[: f.max_items]:
        if isinstance(row, dict):
            cells = {c: _as_text(row.get(c))[: f.max_chars] for c in cols}
        elif isinstance(row, list):
            cells = {c: _as_text(x)[: f.max_chars] for c, x in zip(cols, row, strict=False)}
            cells = {c: cells.get(c, "") for c in cols}
        else:
            cells = {c: "" for c in cols}
            if cols:
                cells[cols[0]] = _as_text(row)[: f.max_chars]
        new.append(cells)
    return new


def _coerce_field(f: OutputField, v: Any) -> tuple[Any, bool]:
    """The value within the field's bounds, and whether that changed it."""
    if f.kind == "text":
        s = _as_text(v)
        return s[: f.max_chars], not isinstance(v, str) or len(s) > f.max_chars
    if f.kind == "list":
        items = v if isinstance(v, list) else [v] if v not in (None, "") else []
        strs = [_as_text(x) for x in items]
        new = [s[: f.max_chars] for s in strs[: f.max_items]]
        return new, new != items
    rows = v if isinstance(v, list) else [v] if v else []
    table = _coerce_rows(f, v)
    return table, table != rows


def coerce_output(spec: PromptSpec, data: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Validate against the spec; bring an out-of-bounds answer within bounds and say so."""
    model = spec.output_model
    missing = [f.title for f in spec.output if f.name not in data]
    missing_reason = REVIEW_MISSING.format(fields="、".join(missing)) if missing else None
    try:
        return model.model_validate(data).model_dump(mode="json"), missing_reason
    except ValidationError:
        pass
    fixed: dict[str, Any] = {}
    touched: list[str] = []
    for f in spec.output:
        if f.name not in data:
            continue
        fixed[f.name], changed = _coerce_field(f, data[f.name])
        if changed:
            touched.append(f.title)
    reasons = [REVIEW_TRUNCATED.format(fields="、".join(touched) or "形式")]
    if missing_reason:
        reasons.append(missing_reason)
    try:
        return model.model_validate(fixed).model_dump(mode="json"), " ".join(reasons)
    except ValidationError:
        return empty_output(spec), REVIEW_UNPARSABLE


def merge_notes(spec: PromptSpec, notes: list[dict[str, Any]]) -> dict[str, Any]:
    """Mechanical union of partial outputs, used only when the reduce call fails."""
    merged: dict[str, Any] = {}
    for f in spec.output:
        values = [n.get(f.name) for n in notes]
        if f.kind == "text":
            merged[f.name] = "\n".join(v for v in values if isinstance(v, str) and v.strip())
        else:
            seen: list[Any] = []
            for v in values:
                for item in v or []:
                    if item not in seen:
                        seen.append(item)
            merged[f.name] = seen
    return merged
