"""Offline extractive engine: a first draft from the document's own sentences, no model, no network.

It exists so a department can try teichaku before IT approves any model endpoint, and so that
confidential folders can still get a (plainer) draft. Everything is derived from the spec: field
titles and keywords find sections and sentences, column names/titles decide what a table cell
holds. Nothing here knows about the built-in specs, because the DX office adds its own.

Deterministic by construction (no randomness, ties broken by position) and linear in the size
of the document, so a 300-page PDF stays around a second.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from core.models import GenerationResult
from core.settings import Settings
from core.specs import Column, OutputField, PromptSpec

ENGINE_NAME = "offline"
MODEL_NAME = "extractive-ja-v1"

# Full-width ASCII -> half-width, ideographic space -> space. One char to one char, so regex
# offsets found on the folded text are valid on the original (NFKC would shift them).
_FOLD = str.maketrans({**{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}, "\u3000": " "})


def _fold(s: str) -> str:
    return s.translate(_FOLD)


def _key(s: str) -> str:
    return s.translate(_FOLD).casefold()


_TERMINAL = "。．！？!?"
_CLOSERS = "」』）)】"
_SENTENCE = re.compile(r"[^。．！？!?]*[。．！？!?]+[」』）)]*|[^。．！？!?]+$")
_BULLET = re.compile(
    r"^(?:[・･●○◯◎□☐☑✓✔※→⇒]|[-*+‐－–—](?=\s)|[0-9０-９]{1,2}[.．)）](?![0-9０-９])"
    r"|[(（][0-9０-９]{1,2}[)）]|[①-⑳]|[a-zA-Z][.)](?=\s))\s*"
)
_HEAD_BRACKET = re.compile(r"^[【\[［〔](?P<h>[^】\]］〕]{1,40})[】\]］〕]\s*(?P<rest>.*)$")
_HEAD_ANGLE = re.compile(r"^[<＜〈《≪](?P<h>[^>＞〉》≫]{1,40})[>＞〉》≫]\s*[:：]?$")
_HEAD_MARK = re.compile(r"^[■◆◇▼▽▶►▲△]\s*(?P<h>.+)$")
_HEAD_MD = re.compile(r"^#{1,6}\s+(?P<h>.+?)\s*#*$")
_HEAD_NUM = re.compile(
    r"^(?:第?[0-9０-９]{1,2}(?:[.．)）、]|章|節)|[(（][0-9０-９]{1,2}[)）]|[一二三四五六七八九十]{1,3}[、.．]"
    r"|[①-⑳]|[IVXⅠ-Ⅹ]{1,4}[.．])\s*(?P<h>.+)$"
)
_HEAD_COLON = re.compile(r"^(?P<h>[^:：。]{1,25})[:：]$")
_LABEL = re.compile(r"^(?P<label>[^:：。、]{1,15})[:：]\s*(?P<value>.+)$")
_MD_RULE = re.compile(r"^\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
# Digits are left out: dates and item numbers repeat everywhere and say nothing about content.
_CONTENT_RUN = re.compile(r"[\u4e00-\u9fff々〆ヶ\u30a1-\u30fa\u30fcA-Za-z]{2,}")

# Dates as people write them in minutes: 11/30, 11月30日(金), 2026-12-01, 来週月曜, 今月中 ...
_WD = r"(?:\s*[(（][月火水木金土日](?:曜日?)?[)）])?"
_DATE = (
    r"(?:(?:\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?|\d{1,2}月\d{1,2}日|(?<![\d/.:])\d{1,2}/\d{1,2}(?![\d/])"
    r"|\d{1,2}月(?:上旬|中旬|下旬|末|中))" + _WD + r"(?:\s*\d{1,2}:\d{2})?"
    r"|(?:今週|来週|再来週)(?:中|末|[月火水木金土日](?:曜日?)?)"
    r"|(?:今月|来月|月|年|年度|今期|上期|下期|本日|今日|週)(?:中|末|内)"
    r"|本日|明日|明後日"
    r"|次回(?:の?(?:会議|商談|打ち合わせ|打合せ|定例|ミーティング))?(?=まで)"
    r"|[月火水木金土日]曜日?)"
)
_DUE_LABEL = re.compile(
    r"(?:期限|期日|納期|締切|締め切り|due|deadline)\s*[:：=]\s*(?P<v>[^\s、,，。;；／|｜()（）]{1,25})",
    re.I,
)
_DUE_UNTIL = re.compile(r"(?P<v>" + _DATE + r")\s*(?:まで|迄|中に|締め|締切)")
_DUE_ANY = re.compile(r"(?P<v>" + _DATE + r")")
_NAME = r"[\u4e00-\u9fff々〆ヶ\u30a1-\u30fa\u30fcA-Za-z][\u4e00-\u9fff々〆ヶ\u30a1-\u30fa\u30fcA-Za-z・]{0,11}"
_OWNER_LABEL = re.compile(
    r"(?:担当者?|主担当|責任者|対応者|実施者|オーナー|owner|assignee)\s*[:：=]\s*(?P<v>[^\s、,，。;；/／|｜()（）]{1,20})",
    re.I,
)
_OWNER_SUFFIX = re.compile(r"(?P<v>" + _NAME + r")(?:さん|氏|君)?(?:が|にて)?担当")
_OWNER_SAN = re.compile(r"(?P<v>" + _NAME + r")(?:さん|氏)")
_OWNER_PAREN = re.compile(r"[(（](?P<v>" + _NAME + r"(?:[・、,]" + _NAME + r")*)[)）]")
_OWNER_TAIL = re.compile(r"[:：]\s*(?P<v>" + _NAME + r")\s*$")
# 「田中：見積書作成（期限 12/4）」 and 「佐藤さんが試作品を手配する」: the owner leads the line.
_OWNER_HEAD = re.compile(
    r"^\s*(?P<v>" + _NAME + r"(?: " + _NAME + r")?)(?:さん|氏|様)?\s*[:：]\s*(?=\S)"
)  # 「田中 真理：」: family and given name with a space (folded from 「　」)
_OWNER_HEAD_SAN = re.compile(r"^\s*(?P<v>" + _NAME + r")(?:さん|氏)(?:が|は|から|より)")
# Words that lead a line with a colon but are not people: 「次回：」「期限：」「備考：」...
_LEAD_LABELS = re.compile(
    r"^(?:次回|前回|今回|期限|期日|納期|担当|内容|備考|目的|概要|要約|結論|決定|議題|日時|場所|"
    r"費用|金額|予算|件名|補足|注意|課題|対応|依頼|確認|予定|結果|理由|状況|進捗|その他|ToDo|TODO)"
)
# A due date alone in brackets, with or without its label: 「（期限 3月9日）」「（4月20日まで）」.
_DUE_PAREN = re.compile(
    r"[(（]\s*(?:(?:期限|期日|納期|締切|締め切り)\s*[:：]?\s*)?(?P<v>"
    + _DATE
    + r")\s*(?:まで|迄|までに)?\s*[)）]"
)
_NOT_A_NAME = re.compile(
    r"済|予定|税|未定|含|込|程度|約|など|仮|以上|以下|参考|注|備考|その他|全体|合計"
)
_MONEY = re.compile(
    r"(?P<v>(?:[¥￥]\s*\d[\d,]*|\d[\d,.]*\s*(?:億|万|千)?\s*円)(?:\s*[(（]税[込抜別][)）])?)"
)
_SEP_CHARS = "、,，/／:：;；・-|｜ 　"
# A line on its own that can only be a heading (「背景」「目的」「費用」): short, no punctuation.
_PLAIN_HEAD = re.compile(r"^[^。．、,，:：;；()（）「」『』|｜!?！？]{1,15}$")
# Notes for the writer's eyes only (「社内メモ：値引きの上限は3%まで（メールには書かない）」).
_INTERNAL = re.compile(
    r"^[【\[［(（]?(?:社内メモ|社内用|社内限り|社内向け|内部メモ)|メールには書かない|社外秘|社外には出さない"
)
# The meeting's own date line in the document's head: 「日時：2026年11月27日（金）14:00〜15:00」.
_WHEN_LABELS = ("日時", "日付", "開催日", "開催日時", "実施日", "商談日", "訪問日")
_NEXT_LABEL = re.compile(r"\s+[^\s:：]{1,8}[:：]")
_COMPANY = re.compile(
    r"(?:株式会社|有限会社|合同会社)[^\s（）()、,，・:：「」]{1,20}"
    r"|[^\s（）()、,，・:：「」]{1,20}(?:株式会社|有限会社|合同会社)"
)
# A wording the spec fixes for every draft: description 「定型文「引き続きよろしくお願いいたします。」」.
_FIXED = re.compile(r"定型文「(?P<v>[^「」]+)」")
# A memo's note of thanks, said as a mail says it: 「…いただいたことへのお礼を伝える。」.
_THANKS_NOTE = re.compile(r"(?:こと)?への(?:お礼|御礼)(?:を(?:伝える|述べる|言う))?。?$")
_EMPTY_PARENS = re.compile(r"[(（][\s、,，/／:：;；・]*[)）]")

_ROLE_WORDS: dict[str, tuple[set[str], tuple[str, ...]]] = {
    "owner": (
        {"owner", "assignee", "person", "pic", "responsible", "who", "charge", "tanto", "staff"},
        ("担当", "責任者", "対応者", "実施者", "オーナー", "誰"),
    ),
    "due": (
        {"due", "deadline", "by", "when", "date", "kigen", "limit", "until"},
        ("期限", "期日", "納期", "締切", "締め切り", "いつまで", "日付", "予定日", "完了予定"),
    ),
    "amount": (
        {"amount", "cost", "price", "fee", "yen", "budget"},
        ("金額", "費用", "価格", "単価", "予算"),
    ),
    "main": (
        {
            "task",
            "item",
            "action",
            "content",
            "description",
            "what",
            "todo",
            "title",
            "summary",
            "detail",
        },
        ("内容", "タスク", "項目", "事項", "件名", "やること", "アクション"),
    ),
}


@dataclass
class _Unit:
    idx: int
    text: str  # original text, bullet marker removed
    key: str  # folded + casefolded, for keyword matching
    section: int
    bullet: bool = False
    cells: list[str] | None = None  # a table row
    block: int = -1  # id of the contiguous table this row belongs to
    first_row: bool = False
    label: str | None = None  # "label：value" lines
    value: str | None = None
    internal: bool = False  # 社内メモ: never put into a section it does not head


@dataclass
class _Section:
    heading: str | None
    fields: list[int] = field(default_factory=list)  # matching output fields, best first


@dataclass
class _Doc:
    units: list[_Unit]
    sections: list[_Section]
    block_header: dict[int, list[str]]


def _clip(s: str, n: int) -> str:
    s = s.strip()
    return s if len(s) <= n else s[: max(n - 1, 0)] + "…"


def _cues(f: OutputField) -> list[str]:
    """Folded cue words: keywords plus the title and its parts (ToDo（アクション）-> ToDo, アクション)."""
    explicit = {_key(k).strip() for k in f.keywords}
    words = [*f.keywords, f.title, *re.split(r"[・/／（）()、\s]+", f.title)]
    out: list[str] = []
    for w in words:
        k = _key(w).strip()
        # Single characters only when the spec author asked for them (e.g. 円).
        if k and k not in out and (len(k) >= 2 or k in explicit):
            out.append(k)
    return out


def _heading_score(head_key: str, cues: list[str]) -> int:
    return max((len(c) for c in cues if c and c in head_key), default=0)


def _unit_score(key: str, cues: list[str]) -> int:
    return sum(1 for c in cues if c in key)


@lru_cache(maxsize=256)
def _cue_regex(cues: tuple[str, ...]) -> re.Pattern[str] | None:
    # One alternation scans a sentence once, instead of once per cue word (300-page inputs).
    return (
        re.compile("|".join(re.escape(c) for c in sorted(cues, key=len, reverse=True)))
        if cues
        else None
    )


def _has_cue(key: str, cues: list[str]) -> bool:
    rx = _cue_regex(tuple(cues))
    return rx is not None and rx.search(key) is not None


class _Parser:
    def __init__(self, cues: list[list[str]]) -> None:
        self.cues = cues
        self.units: list[_Unit] = []
        self.sections: list[_Section] = [_Section(heading=None)]
        self.block_header: dict[int, list[str]] = {}
        self._block = -1
        self._in_table = False

    # -- headings ---------------------------------------------------------------------
    def _fields_for(self, heading: str) -> list[int]:
        hk = _key(heading)
        scored = [(_heading_score(hk, c), i) for i, c in enumerate(self.cues)]
        return [i for s, i in sorted(scored, key=lambda t: (-t[0], t[1])) if s > 0]

    def _heading(self, line: str) -> tuple[str, ...] | None:
        """(heading, trailing content) when the line opens a section."""
        m = _HEAD_BRACKET.match(line)
        if m:
            h, rest = m["h"].strip(), m["rest"].strip()
            # 【重要】… inside a section is a tag, not a new section, unless it names a field.
            if rest and not self._fields_for(h):
                return None
            return h, rest
        m = _HEAD_ANGLE.match(line) or _HEAD_MD.match(line)
        if m:
            return m["h"].strip(" :："), ""
        m = _HEAD_MARK.match(line)
        if m:
            h = m["h"].strip()
            if len(h) <= 30 and not h.endswith(tuple(_TERMINAL)) and "。" not in h:
                return h.rstrip(":：").strip(), ""
            return None
        m = _HEAD_NUM.match(line)
        if m:
            h = m["h"].strip()
            bare = h.rstrip(":：").strip()
            if (
                len(bare) <= 20
                and "。" not in bare
                and (h.endswith((":", "：")) or self._fields_for(bare))
            ):
                return bare, ""
            return None
        m = _HEAD_COLON.match(line)
        if m:
            return m["h"].strip(), ""
        labelled = self._label_heading(line)
        if labelled is not None:
            return labelled
        if len(line) <= 12 and not any(ch in line for ch in "。、,，:：()（）"):
            k = _key(line)
            best = max((len(c) for cs in self.cues for c in cs if c in k), default=0)
            if best and best / len(k) >= 0.6:
                return line, ""
        return None

    def _label_heading(self, line: str) -> tuple[str, ...] | None:
        """「次回：12月15日 10:00から」 inside another section opens the section it names."""
        m = _LABEL.match(line)
        if not m or len(m["label"].strip()) > 10:
            return None
        label = m["label"].strip()
        fields = self._fields_for(label)
        if not fields or fields[0] in self.sections[-1].fields:
            return None
        if _heading_score(_key(label), self.cues[fields[0]]) / len(label) < 0.6:
            return None
        return label, m["value"].strip(), "line"

    def _plain_heading(self, line: str, after: str, pending: str, wrap_min: int) -> bool:
        """「背景」 alone on its line, before a sentence or a bullet: a heading, never text."""
        if not _PLAIN_HEAD.match(line) or _BULLET.match(line) or self._table_cells(line):
            return False
        if (
            pending
            and len(pending) >= wrap_min
            and not pending.endswith(tuple(_TERMINAL + _CLOSERS))
        ):
            return False  # the wrapped end of a PDF line
        if not after:
            return False
        # Short item lines one after another (a list without bullets) are items, not headings.
        return bool(
            _BULLET.match(after)
            or _LABEL.match(after)
            or after.rstrip(_CLOSERS).endswith(tuple(_TERMINAL))
            or len(after) > 15
        )

    # -- content ----------------------------------------------------------------------
    def _add(self, text: str, **kw: Any) -> None:
        text = text.strip()
        if not text:
            return
        unit = _Unit(
            idx=len(self.units), text=text, key=_key(text), section=len(self.sections) - 1, **kw
        )
        unit.internal = bool(_INTERNAL.search(unit.key))
        if unit.cells is None:
            m = _LABEL.match(text)
            if m and not m["label"].strip().isdigit():
                unit.label, unit.value = m["label"].strip(), m["value"].strip()
        self.units.append(unit)

    def _table_cells(self, line: str) -> list[str] | None:
        if "|" not in line and "｜" not in line and "\t" not in line:
            return None
        s = line.strip()
        if s[:1] in "|｜":
            s = s[1:]
        if s[-1:] in "|｜":
            s = s[:-1]
        cells = [c.strip() for c in re.split(r"[|｜\t]", s)]
        return cells if len(cells) >= 2 and sum(1 for c in cells if c) >= 2 else None

    def feed(self, text: str) -> _Doc:
        pending = ""  # a prose line waiting for its wrapped continuation (PDF line breaks)
        pending_bullet = False
        lines = [raw.strip() for raw in text.splitlines()]
        # PDF text breaks at the page width, so a wrapped line is about as long as the longest
        # lines of the document; shorter unfinished lines (日時：…) are complete as they are.
        lengths = sorted(len(x) for x in lines if x)
        wrap_min = max(20, int(0.7 * lengths[int(0.95 * (len(lengths) - 1))])) if lengths else 20
        nexts = [""] * len(lines)
        for i in range(len(lines) - 2, -1, -1):
            nexts[i] = lines[i + 1] or nexts[i + 1]
        for i, line in enumerate(lines):
            if not line:
                self._flush(pending, pending_bullet)
                pending, pending_bullet = "", False
                self._in_table = False
                continue
            if _MD_RULE.match(line):
                continue
            head = self._heading(line)
            if head is None and self._plain_heading(line, nexts[i], pending, wrap_min):
                head = line, ""
            if head is None and _INTERNAL.match(_key(line)):
                head = "", line  # a note of its own: it does not join the section above
            if head is not None:
                self._flush(pending, pending_bullet)
                pending, pending_bullet = self._open(head), False
                continue
            cells = self._table_cells(line)
            if cells is not None:
                self._flush(pending, pending_bullet)
                pending, pending_bullet = "", False
                first = not self._in_table
                if first:
                    self._block += 1
                    self.block_header[self._block] = cells
                self._in_table = True
                self._add(
                    " ".join(c for c in cells if c), cells=cells, block=self._block, first_row=first
                )
                continue
            self._in_table = False
            bm = _BULLET.match(line)
            is_label = bool(_LABEL.match(line)) and len(line.split("：")[0].split(":")[0]) <= 10
            if (
                pending
                and bm is None
                and not is_label
                and len(pending) >= wrap_min
                and not pending.endswith(tuple(_TERMINAL + _CLOSERS + ":："))
            ):
                pending += line
                continue
            self._flush(pending, pending_bullet)
            if bm is not None:
                pending, pending_bullet = line[bm.end() :], True
            else:
                pending, pending_bullet = line, False
        self._flush(pending, pending_bullet)
        return _Doc(self.units, self.sections, self.block_header)

    def _open(self, head: tuple[str, ...]) -> str:
        """Start the section a heading opens; returns its trailing text, still to be read."""
        self._in_table = False
        before = self.sections[-1]
        self.sections.append(_Section(heading=head[0], fields=self._fields_for(head[0])))
        if len(head) <= 2:
            return head[1]
        # 「次回：…」 holds its own line only; the section it interrupted goes on.
        self._flush(head[1], False)
        self.sections.append(_Section(heading=before.heading, fields=before.fields))
        return ""

    def _flush(self, line: str, bullet: bool) -> None:
        if not line:
            return
        if bullet or _LABEL.match(line):
            self._add(line, bullet=bullet)
            return
        for m in _SENTENCE.finditer(line):
            self._add(m.group(0))


# -- tables ---------------------------------------------------------------------------


def _role(name: str, title: str) -> str | None:
    tokens = set(re.split(r"[_\W]+", name.casefold()))
    tk = _key(title)
    for role in ("owner", "due", "amount", "main"):
        names, titles = _ROLE_WORDS[role]
        if tokens & names or any(t in tk for t in titles):
            return role
    return None


@dataclass
class _TableShape:
    columns: list[Column]
    roles: list[str | None]
    main: int  # index of the column that receives the task text

    @classmethod
    def of(cls, f: OutputField) -> _TableShape:
        cols = f.columns or []
        roles = [_role(c.name, c.title) for c in cols]
        main = next((i for i, r in enumerate(roles) if r == "main"), None)
        if main is None:
            main = next((i for i, r in enumerate(roles) if r is None), 0)
        roles[main] = "main"
        return cls(cols, roles, main)

    @property
    def has_owner_or_due(self) -> bool:
        return "owner" in self.roles or "due" in self.roles

    def header_map(self, header: list[str]) -> dict[int, int] | None:
        """Cell position -> column index, when a table's first row names our columns."""
        mapping: dict[int, int] = {}
        used: set[int] = set()
        for pos, cell in enumerate(header):
            ck = _key(cell).strip()
            if not ck:
                continue
            cell_role = _role(cell, cell)
            for ci, col in enumerate(self.columns):
                if ci in used:
                    continue
                tk, nk = _key(col.title), col.name.casefold()
                if (
                    ck in (tk, nk)
                    or (len(ck) >= 2 and (ck in tk or tk in ck))
                    or (cell_role is not None and cell_role == self.roles[ci])
                ):
                    mapping[pos] = ci
                    used.add(ci)
                    break
        return mapping if len(mapping) >= min(2, len(self.columns)) else None


def _search_original(
    pattern: re.Pattern[str], text: str, folded: str
) -> tuple[str, int, int] | None:
    m = pattern.search(folded)
    if not m:
        return None
    return text[m.start("v") : m.end("v")].strip(), m.start(), m.end()


def _find_owner(text: str, folded: str) -> tuple[str, tuple[int, int] | None] | None:
    """Owner and, for explicit 担当：X or a leading 「X：」「Xさんが」, the span to cut from the task."""
    hit = _search_original(_OWNER_LABEL, text, folded)
    if hit:
        return hit[0], (hit[1], hit[2])
    for pat in (_OWNER_HEAD, _OWNER_HEAD_SAN):
        m = pat.match(folded)
        if m and len(m["v"]) <= 10 and not _LEAD_LABELS.match(m["v"]):
            v = text[m.start("v") : m.end("v")]
            if not _NOT_A_NAME.search(v) and not _DUE_ANY.fullmatch(_fold(v)):
                # The lead goes from the task: 「佐藤さんが試作品を手配する」 -> 「試作品を手配する」.
                return v, (m.start(), m.end())
    for pat in (_OWNER_SUFFIX, _OWNER_SAN):
        for m in pat.finditer(folded):
            v = text[m.start("v") : m.end("v")]
            if not _NOT_A_NAME.search(v):
                return v, None
    for m in _OWNER_PAREN.finditer(folded):
        v = text[m.start("v") : m.end("v")]
        if not _NOT_A_NAME.search(v) and not _DUE_ANY.fullmatch(_fold(v)):
            return v, (m.start(), m.end())
    m = _OWNER_TAIL.search(folded)  # "サンプル手配：高橋"
    if m and len(m["v"]) <= 8:
        v = text[m.start("v") : m.end("v")]
        if not _NOT_A_NAME.search(v) and not _DUE_ANY.fullmatch(_fold(v)):
            return v, (m.start(), m.end())
    return None


def _find_due(text: str, folded: str) -> tuple[str, tuple[int, int] | None] | None:
    hit = _search_original(_DUE_LABEL, text, folded)
    if hit:
        return hit[0], (hit[1], hit[2])
    m = _DUE_PAREN.search(folded)
    if m:
        return text[m.start("v") : m.end("v")].strip(), (m.start(), m.end())
    for pat in (_DUE_UNTIL, _DUE_ANY):
        m = pat.search(folded)
        if m:
            v = text[m.start("v") : m.end("v")].strip()
            # A date alone in brackets, e.g. （今月中）, is metadata: cut it from the task text.
            s, e = m.start("v"), m.end("v")
            if s > 0 and e < len(text) and text[s - 1] in "(（" and text[e] in ")）":
                return v, (s - 1, e + 1)
            return v, None
    return None


@lru_cache(maxsize=512)
def _label_patterns(name: str, title: str) -> list[re.Pattern[str]]:
    labels = [title, *re.split(r"[・/／（）()、\s]+", title)]
    if len(name) >= 3:
        labels.append(name)
    pats = []
    seen: set[str] = set()
    for lab in labels:
        lk = _key(lab).strip()
        if len(lk) < 2 or lk in seen:
            continue
        seen.add(lk)
        e = re.escape(lk)
        # "計画：1,200個" (explicit colon: any value) or "計画 1,200個" (no colon: numbers only)
        pats.append(
            re.compile(
                e
                + r"[^\d\s:：=、,，。;；/／|｜()（）]{0,3}?\s*[:：=]\s*(?P<v>[^\s、,，。;；/／|｜()（）]{1,30})",
                re.I,
            )
        )
        pats.append(
            re.compile(
                e
                + r"[^\d\s:：=、,，。;；/／|｜()（）]{0,3}?\s*(?P<v>[-+]?\d[\d,.]*\s*[%a-zA-Z\u3040-\u30ff\u4e00-\u9fff]{0,4})",
                re.I,
            )
        )
    return pats


def _cleanup(text: str, spans: list[tuple[int, int]]) -> str:
    if spans:
        keep = []
        last = 0
        for s, e in sorted(spans):
            if s < last:
                continue
            keep.append(text[last:s])
            last = e
        keep.append(text[last:])
        text = "".join(keep)
    prev = None
    while prev != text:
        prev = text
        text = _EMPTY_PARENS.sub("", text)
        text = re.sub(r"([、,，/／;；・])\s*(?=[、,，/／;；・)）。]|$)", "", text)
        text = re.sub(r"[(（]\s*[、,，/／;；・]\s*", "（", text)
        text = re.sub(r"[ \u3000]{2,}", " ", text)
    return text.strip(_SEP_CHARS)


def _row_from_text(shape: _TableShape, text: str) -> dict[str, str]:
    folded = _fold(text)
    row = {c.name: "" for c in shape.columns}
    cut: list[tuple[int, int]] = []
    for ci, (col, role) in enumerate(zip(shape.columns, shape.roles, strict=True)):
        if ci == shape.main:
            continue
        found: tuple[str, tuple[int, int] | None] | None = None
        if role == "owner":
            found = _find_owner(text, folded)
        elif role == "due":
            found = _find_due(text, folded)
        elif role == "amount":
            hit = _search_original(_MONEY, text, folded)
            found = (hit[0], None) if hit else None
        if found is None:
            for pat in _label_patterns(col.name, col.title):
                hit = _search_original(pat, text, folded)
                if hit:
                    found = hit[0], (hit[1], hit[2])
                    break
        if found:
            row[col.name] = found[0]
            if found[1]:
                cut.append(found[1])
    if shape.columns:
        row[shape.columns[shape.main].name] = _cleanup(text, cut) or text
    return row


# -- key sentences --------------------------------------------------------------------


class _Centrality:
    """Scores a unit by how many of the document's frequent content bigrams it carries."""

    def __init__(self, units: list[_Unit]) -> None:
        self.grams: list[set[str]] = []
        df: Counter[str] = Counter()
        for u in units:
            g = {run[i : i + 2] for run in _CONTENT_RUN.findall(u.key) for i in range(len(run) - 1)}
            self.grams.append(g)
            df.update(g)
        self.weight = {b: math.log1p(n - 1) for b, n in df.items()}

    def score(self, u: _Unit) -> float:
        g = self.grams[u.idx]
        if not g:
            return 0.0
        w = self.weight
        # fsum: exact, so the score does not depend on set order (PYTHONHASHSEED).
        return math.fsum(w[b] for b in g) / math.sqrt(len(g) + 4)


class OfflineEngine:
    """Deterministic extractive drafts for any valid PromptSpec."""

    name = ENGINE_NAME
    model = MODEL_NAME

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings

    def generate(self, spec: PromptSpec, text: str, *, file_name: str) -> GenerationResult:
        raw = extract(spec, text)
        validated = spec.output_model.model_validate(raw).model_dump()
        empty = all(not v for v in validated.values())
        return GenerationResult(
            output=validated,
            engine=ENGINE_NAME,
            model=MODEL_NAME,
            calls=[],
            needs_review_reason=(
                "オフライン抽出では、この文書から各項目に当たる内容を見つけられませんでした。原文を確認してください。"
                if empty
                else None
            ),
        )


def extract(spec: PromptSpec, text: str) -> dict[str, Any]:
    """Field name -> value (str, list[str] or list[dict]) within the spec's bounds."""
    cues = [_cues(f) for f in spec.output]
    doc = _Parser(cues).feed(text)

    owned: list[list[_Unit]] = [[] for _ in spec.output]
    claimed: set[int] = set()
    for u in doc.units:
        fields = doc.sections[u.section].fields
        if not fields:
            continue
        target = fields[0]
        if len(fields) > 1:
            # "決定事項・ToDo": each line goes to the field whose cue words it carries.
            best = max(fields, key=lambda i: (_unit_score(u.key, cues[i]), -fields.index(i)))
            if _unit_score(u.key, cues[best]) > 0:
                target = best
        owned[target].append(u)
        claimed.add(u.idx)
    free = [u for u in doc.units if u.idx not in claimed and not u.internal]

    centrality: _Centrality | None = None
    out: dict[str, Any] = {}
    for i, f in enumerate(spec.output):
        if f.kind == "text":
            if centrality is None and not owned[i]:
                centrality = _Centrality(doc.units)
            # A sentence outside every section is told once, not in each prose field that could
            # take it (lists and tables still pick their rows: 「山田さんが…送る」 is a ToDo too).
            avail = _unused(free, out)
            out[f.name] = _fill_text(f, cues[i], owned[i], avail, centrality)
        elif f.kind == "list":
            out[f.name] = _fill_list(f, cues[i], owned[i], free)
        else:
            out[f.name] = _fill_table(f, cues[i], owned[i], free, doc)
    _frame(spec, cues, doc, out)
    return out


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return "\n".join(_flat(v) for v in value.values())
    if isinstance(value, list):
        return "\n".join(_flat(v) for v in value)
    return str(value or "")


def _unused(units: list[_Unit], out: dict[str, Any]) -> list[_Unit]:
    """The units whose words no field has taken yet (the fields' text joined once, not per unit)."""
    if not out:
        return list(units)
    text = "\n".join(_flat(v) for v in out.values())
    return [u for u in units if (u.value or u.text) not in text and _unit_text(u) not in text]


def _head_units(doc: _Doc) -> list[_Unit]:
    """The lines before the first section a field takes: title, 日時, 先方, 作成者 ..."""
    first = next((i for i, s in enumerate(doc.sections) if s.fields), len(doc.sections))
    return [u for u in doc.units if u.section < first][:8]


def _when(doc: _Doc) -> _Unit | None:
    for u in _head_units(doc):
        if u.label in _WHEN_LABELS and u.value and _DUE_ANY.search(_fold(u.value)):
            return u
    return None


def _frame(spec: PromptSpec, cues: list[list[str]], doc: _Doc, out: dict[str, Any]) -> None:
    """What a draft of this kind says around the source's sentences, as the spec asks: the
    meeting's date line in the summary or the thanks, a mail's addressee (a field whose cues
    name 宛名), the wording a description fixes (定型文「…」), in that order."""
    when = _when(doc)
    for i, f in enumerate(spec.output):
        if f.kind != "text":
            continue
        value = out[f.name]
        if value and when is not None and when.value and when.value not in value:
            if any(c in ("お礼", "御礼") for c in cues[i]):
                date = _NEXT_LABEL.split(when.value)[0].strip()
                thanks = _THANKS_NOTE.sub("ことに、心より御礼申し上げます。", value)
                value = f"{date}のお打ち合わせでは、{thanks}"
            elif re.search(r"要約|概要|サマリ", f.title):
                value = _join([when.text, value], f.max_chars)
        fixed = _FIXED.search(f.description)
        lead = [
            _addressee(doc) if any(c in ("宛名", "宛先") for c in cues[i]) else "",
            fixed["v"] if fixed else "",
        ]
        if any(lead):
            value = "\n".join(x for x in [*lead, value] if x)
        out[f.name] = _clip(value, f.max_chars)


def _addressee(doc: _Doc) -> str:
    """「株式会社ABC商事 購買部 佐々木部長、木村様」 from the memo's head: its company, then the
    person named beside it or on a 先方/宛先/ご担当 line."""
    company = person = ""
    titles = [s.heading for s in doc.sections[:2] if s.heading and not s.fields]
    for u in [*titles, *_head_units(doc)]:
        if isinstance(u, str):
            u = _Unit(idx=-1, text=u, key=_key(u), section=0)
        text = u.value if u.label and u.value and not _COMPANY.search(u.label) else u.text
        m = _COMPANY.search(text) if not company else None
        if m:
            company = m.group(0)
            rest = re.split(r"[)）]", text[m.end() :])[0].strip()
            if rest.endswith("様"):
                person = rest
        for lab in re.finditer(
            r"(?:先方|宛先|ご担当|お客様)\s*[:：]\s*(?P<v>\S+(?: \S+)*)", u.text
        ):
            person = person or _NEXT_LABEL.split(lab["v"])[0].strip()
    return " ".join(x for x in (company, person) if x)


def _label_matches(label: str, cues: list[str]) -> bool:
    lk = _key(label)
    return any(c in lk or (len(lk) >= 2 and lk in c) for c in cues)


def _join(pieces: list[str], limit: int) -> str:
    result = ""
    for p in pieces:
        p = p.strip()
        if not p:
            continue
        # Glued only after a full stop: 「…株式会社様）」 then 「背景」 stay two lines.
        ends = result.rstrip(_CLOSERS).endswith(tuple(_TERMINAL))
        sep = "" if not result or ends else "\n"
        if len(result) + len(sep) + len(p) > limit:
            if not result:
                result = _clip(p, limit)
            break
        result += sep + p
    return result


def _unit_text(u: _Unit) -> str:
    return " / ".join(c for c in u.cells if c) if u.cells else u.text


def _fill_text(
    f: OutputField,
    cues: list[str],
    owned: list[_Unit],
    free: list[_Unit],
    centrality: _Centrality | None,
) -> str:
    def labelled(units: list[_Unit]) -> list[str]:
        vals: list[str] = []
        for u in units:
            if u.label and u.value and _label_matches(u.label, cues) and u.value not in vals:
                vals.append(u.value)
        return vals

    if owned:
        # Short fields (件名, 職種名) want the value of "募集職種：…", not the whole section.
        vals = labelled(owned) if f.max_chars <= 120 else []
        if not vals:
            prose = [u for u in owned if u.label is None or _label_matches(u.label, cues)]
            # A stray "連絡先：…" line at the end of a prose section is metadata, not content.
            vals = [_unit_text(u) for u in (prose or owned)]
        return _join(vals, f.max_chars)
    vals = labelled(free)
    if vals:
        return _join(vals, f.max_chars)
    if not free or centrality is None or _framed(f, cues):
        return ""
    # Sentences that name the field (「回答としては、…」「窓口は…」) rather than the whole text.
    named = [u for u in free if _has_cue(u.key, cues)]
    picked = _key_sentences(named or free, cues, centrality, min(f.max_chars, 300))
    # A short field (件名, 職種名) is one line of the source, not several run together.
    return _join(picked[:1] if f.max_chars <= 120 else picked, f.max_chars)


def _framed(f: OutputField, cues: list[str]) -> bool:
    """Fields whose words are not any sentence of the source (see _frame)."""
    return bool(_FIXED.search(f.description)) or any(c in ("宛名", "宛先") for c in cues)


def _key_sentences(
    units: list[_Unit], cues: list[str], centrality: _Centrality, budget: int
) -> list[str]:
    raw = [(centrality.score(u), u) for u in units]
    top = max((s for s, _ in raw), default=0.0) or 1.0
    n = len(units)
    ranked: list[tuple[float, int, _Unit]] = []
    for s, u in raw:
        score = s / top
        if _has_cue(u.key, cues):
            score += 0.5
        if u.idx < max(3, n // 10):
            score += 0.15
        if u.label is not None or u.cells is not None:
            score -= 0.3  # 日時：… / 出席者：… lines are metadata, not content
        if len(u.text) < 10:
            score -= 0.5
        if not u.text.rstrip(_CLOSERS).endswith(tuple(_TERMINAL)):
            score -= 0.2  # titles and fragments read badly as a summary
        ranked.append((score, u.idx, u))
    ranked.sort(key=lambda t: (-t[0], t[1]))
    chosen: list[_Unit] = []
    used = 0
    for _, _, u in ranked:
        if used + len(u.text) > budget and chosen:
            continue
        chosen.append(u)
        used += len(u.text)
        if used >= budget:
            break
    chosen.sort(key=lambda u: u.idx)
    return [u.text for u in chosen]


def _fill_list(f: OutputField, cues: list[str], owned: list[_Unit], free: list[_Unit]) -> list[str]:
    source = owned or [u for u in free if _has_cue(u.key, cues)]
    items: list[str] = []
    for u in source:
        if u.cells and u.first_row and all(len(c) <= 12 for c in u.cells):
            continue
        item = _clip(_unit_text(u), f.max_chars)
        if item and item not in items:
            items.append(item)
            if len(items) >= f.max_items:
                break
    return items


def _fill_table(
    f: OutputField, cues: list[str], owned: list[_Unit], free: list[_Unit], doc: _Doc
) -> list[dict[str, str]]:
    shape = _TableShape.of(f)
    maps: dict[int, dict[int, int] | None] = {}

    def header_of(u: _Unit) -> dict[int, int] | None:
        if u.block not in maps:
            maps[u.block] = shape.header_map(doc.block_header[u.block])
        return maps[u.block]

    rows: list[dict[str, str]] = []
    seen: set[tuple[str, ...]] = set()

    def add(row: dict[str, str]) -> bool:
        row = {k: _clip(v, f.max_chars) for k, v in row.items()}
        sig = tuple(row.values())
        if any(row.values()) and sig not in seen:
            seen.add(sig)
            rows.append(row)
        return len(rows) >= f.max_items

    def from_unit(u: _Unit) -> dict[str, str] | None:
        if u.cells is not None:
            mapping = header_of(u)
            if mapping is not None:
                if u.first_row:
                    return None
                row = {c.name: "" for c in shape.columns}
                for pos, ci in mapping.items():
                    if pos < len(u.cells):
                        row[shape.columns[ci].name] = u.cells[pos]
                return row
        return _row_from_text(shape, _unit_text(u))

    if owned:
        for u in owned:
            row = from_unit(u)
            if row is not None and add(row):
                break
        return rows
    for u in free:
        if u.cells is not None and header_of(u) is not None:
            row = from_unit(u)
        elif _has_cue(u.key, cues):
            row = _row_from_text(shape, _unit_text(u))
            # Without a section, a cue word alone (対応, 担当) is too weak: require a parsed owner/due.
            if shape.has_owner_or_due and not any(
                row[c.name]
                for c, r in zip(shape.columns, shape.roles, strict=True)
                if r in ("owner", "due")
            ):
                row = None
        else:
            row = None
        if row is not None and add(row):
            break
    return rows
