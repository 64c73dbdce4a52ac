"""Measures of an offline draft against its source: the figures kept and the sections' length.

Used by bench/offline_quality.py (the report) and tests/tasks/test_offline_quality.py (the floor).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from core.examples import EXPECTATIONS_FILE, examples_dir, load_expectations
from core.models import DraftMeta
from core.settings import IntakeSettings
from core.specs import LoadedSpec
from tasks.extract import extract_text
from tasks.generate.offline import OfflineEngine
from tasks.render import draft_title, source_heading

_NUM = r"\d+(?:[,，]\d{3})*(?:\.\d+)?"
_UNITS = (
    r"(?:万|億|千)?(?:円|名|人|台|個|枚|件|時間|分|週間|週|日間|か月|ヶ月|カ月|年間|年|%|％|"
    r"kg|ｋｇ|t|トン|本|回|箱|ロット|m|mm|cm|点|社|部|株|口|セット|ケース|pcs|字|時|ページ|頁|席|棟|室|台数)"
)
FACT = re.compile(
    "|".join(
        [
            r"\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?",  # 2026年11月20日, 2027年1月
            r"\d{1,2}\s*月\s*\d{1,2}\s*日",  # 12月4日
            r"\d{4}[/.-]\d{1,2}[/.-]\d{1,2}",  # 2026/11/26
            r"(?<![\d/])\d{1,2}/\d{1,2}(?![\d/])",  # 12/4
            r"\d{1,2}:\d{2}",  # 10:20
            r"[¥￥]\s*" + _NUM,
            _NUM + r"\s*" + _UNITS,
        ]
    )
)


def facts(text: str) -> set[str]:
    """The figures of a text, normalised (NFKC, no spaces or thousands separators)."""
    norm = unicodedata.normalize("NFKC", text)
    return {re.sub(r"[\s,]", "", m.group(0)) for m in FACT.finditer(norm)}


def flat(value) -> str:
    if isinstance(value, dict):
        return "\n".join(flat(v) for v in value.values())
    if isinstance(value, list | tuple):
        return "\n".join(flat(v) for v in value)
    return "" if value is None else str(value)


@dataclass
class Result:
    spec_id: str
    name: str
    source_facts: int
    kept: int
    source_chars: int
    section_chars: int
    missing: list[str]

    @property
    def ratio(self) -> float:
        return self.section_chars / max(self.source_chars, 1)


def measure(loaded: LoadedSpec, name: str, text: str, engine: OfflineEngine) -> Result:
    out = engine.generate(loaded.spec, text, file_name=name).output
    # The draft's title is part of what the reader gets (the meeting's date is usually there).
    meta = DraftMeta(
        source_name=name,
        spec_id=loaded.spec.id,
        spec_version=loaded.spec.version,
        spec_title=loaded.spec.title,
        department_name=loaded.spec.department_name,
        engine="offline",
        model="",
        created_at="2026-01-01T00:00:00",
        source_heading=source_heading(text),
    )
    body = draft_title(loaded.spec, out, meta) + "\n" + flat(out)
    have = facts(body)
    want = facts(text)
    kept = want & have
    content = re.sub(r"\s", "", text)
    return Result(
        loaded.spec.id,
        name,
        len(want),
        len(kept),
        len(content),
        len(re.sub(r"\s", "", flat(out))),  # the sections only, as the draft body holds them
        sorted(want - kept),
    )


def sample_inputs(loaded: LoadedSpec) -> list[tuple[str, str]]:
    folder = examples_dir(loaded)
    if not folder.is_dir():
        return []
    exp = load_expectations(folder / EXPECTATIONS_FILE)
    out = []
    for case in exp.cases:
        doc = extract_text(folder / case.input, IntakeSettings())
        out.append((case.input, doc.text))
    return out
