"""What every draft says, whatever its format: clean text, the title, the time, the review notes.

The Markdown draft, the house-style Word draft and a company form all take their words from
here, so the three never disagree about the source, the spec, the engine or the rules.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.models import DraftMeta
from core.specs import PromptSpec

BANNER = "⚠ AI下書き・要確認"
OFFLINE_NOTICE = (
    "この下書きはオフライン抽出エンジンの出力です。AIモデルが書いた文章ではなく、"
    "元の文書から抜き出した文をそのまま並べたものです。"
)
OFFLINE_SHORT = "オフライン抽出（原文の抜き出し）"
EMPTY = "（記載なし）"
NOTES_HEADING = "確認用メモ"
RULES_HEADING = "利用上の注意"
UNSHOWN_HEADING = "様式に載っていない項目"
TITLE_MAX = 80

# publish.write_draft reads this back to tell a re-run of the same document (overwrite) from a
# different document that happens to map to the same file stem (keep both).
DOC_MARKER_RE = re.compile(r"<!-- teichaku:doc=([0-9a-f]{16}) -->")


def document_key(spec_id: str, source_name: str) -> str:
    """Identity of the document a draft was made from, as stored in both draft files."""
    return hashlib.sha256(f"{spec_id}\0{source_name}".encode("utf-8", "surrogatepass")).hexdigest()[
        :16
    ]


def _build_clean_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for cp in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)):
        table[cp] = None
    del table[0x09], table[0x0A]
    # These separate lines or pages in the source (VT = soft break in Word, FF = PDF page
    # break, NEL/LS/PS = Unicode line ends); dropping them would glue two sentences together.
    for cp in (0x0B, 0x0C, 0x85, 0x2028, 0x2029):
        table[cp] = "\n"
    # Not XML characters at all: lxml raises on them, so one bad byte would sink the draft.
    # Lone surrogates arrive from surrogateescape'd file names and broken PDF text layers.
    for cp in (*range(0xD800, 0xE000), 0xFFFE, 0xFFFF, 0xFEFF):
        table[cp] = None
    return table


_CLEAN_TABLE = _build_clean_table()


def clean_text(s: str) -> str:
    """Drop NUL, C0/C1 controls (except newline and tab) and non-XML code points; newlines -> \\n."""
    if not isinstance(s, str):
        s = "" if s is None else str(s)
    return s.replace("\r\n", "\n").replace("\r", "\n").translate(_CLEAN_TABLE)


def one_line(s: Any) -> str:
    return " ".join(clean_text(s).split())


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(f"{k}: {as_text(v)}" for k, v in value.items())
    if isinstance(value, Iterable):
        return "\n".join(as_text(v) for v in value)
    return str(value)


def as_items(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items: Iterable[Any] = value.splitlines()
    elif isinstance(value, Iterable) and not isinstance(value, dict):
        items = value
    else:
        items = [value]
    return [t for t in (clean_text(as_text(i)).strip() for i in items) if t]


def as_rows(value: Any, names: list[str]) -> list[list[str]]:
    if not isinstance(value, Iterable) or isinstance(value, str | dict):
        return []
    rows = []
    for row in value:
        if hasattr(row, "model_dump"):
            row = row.model_dump()
        if isinstance(row, dict):
            cells = [row.get(n) for n in names]
        elif isinstance(row, Iterable) and not isinstance(row, str):
            cells = list(row)[: len(names)]
            cells += [""] * (len(names) - len(cells))
        else:
            cells = [row] + [""] * (len(names) - 1)
        texts = [clean_text(as_text(c)).strip() for c in cells]
        if any(texts):
            rows.append(texts)
    return rows


def format_time(dt: datetime, *, seconds: bool = False) -> str:
    """A time as a person reads it, in the zone it carries: 「2026-11-20 10:30 JST」.

    Callers pass times already in the workspace's zone (Settings.zone); a naive time is shown
    as it is, without pretending to know its zone."""
    text = dt.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    name = dt.tzname() or ""
    if name.isascii() and name.isalpha():
        return f"{text} {name}"
    offset = dt.strftime("%z")
    if offset:
        text += f" (UTC{offset[:3]}:{offset[3:]})"
    return text


# --- the title ---------------------------------------------------------------------------------

# A line that names the document: 「件名：…」「表題：…」 (full- or half-width colon).
_SUBJECT_LINE = re.compile(
    r"^\s*[【\[]?(?:件名|表題|標題|題名|タイトル|会議名|議題)[】\]]?\s*[:：]\s*(.+)$"
)
# Decoration around a heading: Markdown #, ■●◆, brackets.
_HEADING_DECOR = re.compile(r"^[#\s■□●○◆◇▼▽・\-\*]+|[\s■□●○◆◇]+$")


_DATE = re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}[/.-]\d{1,2}[/.-]\d{1,2}")


def _title_text(s: Any) -> str:
    # One line, but the ideographic space of 「定例商談　2024年5月1日」 stays as written.
    return re.sub(r"[ \t\n]+", " ", clean_text(as_text(s))).strip()


def source_heading(text: str, *, lines: int = 12) -> str | None:
    """The document's own title: a 件名/表題 line, else its first Markdown heading, else its
    first short line (within the first `lines` non-empty lines), with the document's date when
    that heading has none (a daily report or minutes is told apart by its day). None when
    nothing fits."""
    head = [s.strip() for s in clean_text(text).splitlines() if s.strip()][:lines]
    for s in head:
        m = _SUBJECT_LINE.match(s)
        if m and _title_text(m.group(1)):
            return _title_text(m.group(1))[:TITLE_MAX]  # a 件名 is already the whole title
    title = _heading_line(head)
    if title is None:
        return None
    dates = (m.group(0) for s in head if (m := _DATE.search(s)))
    if not _DATE.search(title) and (date := next(dates, None)):
        title = f"{title}　{date}"
    return title[:TITLE_MAX]


def _heading_line(head: list[str]) -> str | None:
    for s in head:
        if s.startswith("# "):
            return _title_text(_HEADING_DECOR.sub("", s)) or None
    for s in head[:1]:
        cand = _title_text(_HEADING_DECOR.sub("", s)).strip("【】")
        # A long first line is a sentence, not a title.
        if cand and len(cand) <= 60 and not cand.endswith("。"):
            return cand
    return None


def _file_stem(name: str) -> str:
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    return stem if dot and stem and len(ext) <= 5 else base


def draft_title(spec: PromptSpec, output: dict[str, Any], meta: DraftMeta) -> str:
    """The draft's title, as the spec decides: its title field (or a `subject` field), else the
    source's first heading, else the file name."""
    field = spec.title_field or (
        "subject" if any(f.name == "subject" for f in spec.output) else None
    )
    if field:
        value = _title_text(output.get(field))
        if value:
            return value[:TITLE_MAX]
    if meta.source_heading and _title_text(meta.source_heading):
        return _title_text(meta.source_heading)[:TITLE_MAX]
    return _title_text(_file_stem(meta.source_name))[:TITLE_MAX] or _title_text(spec.title)


# --- the review notes (確認用メモ) ----------------------------------------------------------------


@dataclass(frozen=True)
class ReviewNotes:
    """Provenance, warnings and the spec's rules: what the reviewer reads and the recipient does not."""

    provenance: list[tuple[str, str]]
    warnings: list[tuple[str, str]]
    offline: bool
    duty: str
    forbidden: list[str]
    owner: str

    @property
    def has_warnings(self) -> bool:
        return bool(self.warnings)


def review_notes(spec: PromptSpec, meta: DraftMeta) -> ReviewNotes:
    provenance = [
        # NFC even if a caller forgets: an NFD 「パ」 shows as two glyphs in some viewers.
        ("元ファイル", unicodedata.normalize("NFC", meta.source_name)),
        ("仕様", f"{meta.spec_id} v{meta.spec_version}（{meta.spec_title or spec.title}）"),
        ("部署", meta.department_name),
        ("エンジン/モデル", f"{meta.engine} / {meta.model}"),
        ("作成日時", format_time(meta.created_at)),
    ]
    warnings = [("注意", w) for w in meta.warnings if one_line(w)]
    if meta.needs_review_reason:
        warnings.append(("要確認", meta.needs_review_reason))
    r = spec.rules
    return ReviewNotes(
        provenance=[(k, one_line(v)) for k, v in provenance],
        warnings=[(k, one_line(v)) for k, v in warnings],
        offline=meta.offline,
        duty=one_line(r.review_duty),
        forbidden=[one_line(x) for x in r.forbidden_inputs if one_line(x)],
        owner=one_line(r.owner),
    )


def header_text(meta: DraftMeta, notes: ReviewNotes) -> str:
    """The line in every page's header: the banner, what made it, and where to read the notes."""
    parts = [BANNER]
    if meta.offline:
        parts.append(OFFLINE_SHORT)
    if notes.has_warnings:
        parts.append(f"注意事項あり：{NOTES_HEADING}を参照")
    return "　".join(parts)
