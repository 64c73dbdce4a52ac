"""Render step: structured output -> a Markdown draft and a Word draft (bytes, not yet written).

Both files start with the same Japanese banner and provenance lines and end with the spec's usage
rules, so a draft printed or forwarded on its own still says it is an unchecked AI draft.
The Word file is built from the structured output itself (real headings, bullets and tables),
not converted from the Markdown.
"""

from __future__ import annotations

import copy
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from docx import Document
from docx.enum.text import WD_COLOR_INDEX
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from jinja2 import TemplateError

from core.errors import ConfigError
from core.models import DraftMeta, RenderedDraft
from core.specs import OutputField, PromptSpec
from core.templating import render as render_jinja

BANNER = "⚠ AI下書き・要確認"
OFFLINE_NOTICE = (
    "この下書きはオフライン抽出エンジンの出力です。AIモデルが書いた文章ではなく、"
    "元の文書から抜き出した文をそのまま並べたものです。"
)
EMPTY = "（記載なし）"
RULES_HEADING = "利用上の注意"

# Word falls back to a Chinese or Latin face for kana/kanji unless w:eastAsia names a Japanese
# font; Yu Gothic ships with Windows 8.1+ and macOS Office, MS Gothic is the older fallback.
EAST_ASIAN_FONT = "Yu Gothic"
LATIN_FONT = "Yu Gothic"
_FONT_STYLES = ("Normal", "Title", "Heading 1", "Heading 2", "List Bullet", "Table Grid")

# Core properties are limited to 255 characters by python-docx (and by Office).
_CORE_PROP_MAX = 255

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


def _one_line(s: Any) -> str:
    return " ".join(clean_text(s).split())


def _fmt_time(dt: datetime) -> str:
    text = dt.strftime("%Y-%m-%d %H:%M")
    offset = dt.strftime("%z")
    if offset:
        text += f" (UTC{offset[:3]}:{offset[3:]})"
    return text


def _header_lines(spec: PromptSpec, meta: DraftMeta) -> list[tuple[str, str]]:
    lines = [
        # NFC even if a caller forgets: an NFD 「パ」 shows as two glyphs in some viewers.
        ("元ファイル", unicodedata.normalize("NFC", meta.source_name)),
        ("仕様", f"{meta.spec_id} v{meta.spec_version}（{meta.spec_title or spec.title}）"),
        ("部署", meta.department_name),
        ("エンジン/モデル", f"{meta.engine} / {meta.model}"),
        ("作成日時", _fmt_time(meta.created_at)),
    ]
    lines += [("注意", w) for w in meta.warnings if _one_line(w)]
    if meta.needs_review_reason:
        lines.append(("要確認", meta.needs_review_reason))
    return [(k, _one_line(v)) for k, v in lines]


def _rules_lines(spec: PromptSpec) -> tuple[str, list[str], str]:
    r = spec.rules
    forbidden = [_one_line(x) for x in r.forbidden_inputs if _one_line(x)]
    return _one_line(r.review_duty), forbidden, _one_line(r.owner)


def render_markdown(spec: PromptSpec, output: dict[str, Any], meta: DraftMeta) -> str:
    try:
        body = render_jinja(spec.render_template, out=output, meta=meta.model_dump(), spec=spec)
    except TemplateError as e:
        # A broken template is a spec bug for the DX office, not a reason to quarantine the file.
        raise ConfigError(f"spec {spec.id} v{spec.version}: render_template failed: {e}") from e

    parts = [f"**{BANNER}**", ""]
    if meta.offline:
        parts += [f"> {OFFLINE_NOTICE}", ""]
    parts += [f"- {k}: {v}" for k, v in _header_lines(spec, meta)]
    parts += ["", "---", "", clean_text(body).strip("\n"), "", "---", "", f"## {RULES_HEADING}", ""]
    duty, forbidden, owner = _rules_lines(spec)
    parts.append(f"- 確認の義務: {duty}")
    if forbidden:
        parts.append("- 入力してはいけないもの:")
        parts += [f"  - {x}" for x in forbidden]
    parts.append(f"- 問い合わせ先: {owner}")
    parts += ["", f"<!-- teichaku:doc={document_key(meta.spec_id, meta.source_name)} -->", ""]
    return clean_text("\n".join(parts))


# --- DOCX -------------------------------------------------------------------------------------


def _set_fonts(style: Any) -> None:
    style.font.name = LATIN_FONT  # sets w:ascii and w:hAnsi, creating rPr/rFonts if needed
    rpr = style.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    # Theme font attributes win over explicit names in Word, and the built-in heading styles
    # carry them, so headings would otherwise ignore our East Asian font.
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    rfonts.set(qn("w:ascii"), LATIN_FONT)
    rfonts.set(qn("w:hAnsi"), LATIN_FONT)
    rfonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)


def _set_japanese(doc: Any) -> None:
    for name in _FONT_STYLES:
        try:
            style = doc.styles[name]
        except KeyError:
            continue
        _set_fonts(style)
    # Language tag drives Japanese line breaking (禁則処理) and proofing in Word.
    rpr = doc.styles["Normal"].element.get_or_add_rPr()
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:eastAsia"), "ja-JP")


def _add_banner(doc: Any, meta: DraftMeta) -> None:
    p = doc.add_paragraph()
    run = p.add_run(BANNER)
    run.bold = True
    run.font.size = Pt(14)
    run.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)
    run.font.highlight_color = WD_COLOR_INDEX.YELLOW
    if meta.offline:
        note = doc.add_paragraph().add_run(OFFLINE_NOTICE)
        note.bold = True
        note.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)


def _add_label_line(doc: Any, label: str, value: str) -> None:
    p = doc.add_paragraph()
    p.add_run(f"{label}: ").bold = True
    p.add_run(value)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(f"{k}: {_as_text(v)}" for k, v in value.items())
    if isinstance(value, Iterable):
        return "\n".join(_as_text(v) for v in value)
    return str(value)


def _as_items(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items: Iterable[Any] = value.splitlines()
    elif isinstance(value, Iterable) and not isinstance(value, dict):
        items = value
    else:
        items = [value]
    return [t for t in (clean_text(_as_text(i)).strip() for i in items) if t]


def _as_rows(value: Any, names: list[str]) -> list[list[str]]:
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
        texts = [clean_text(_as_text(c)).strip() for c in cells]
        if any(texts):
            rows.append(texts)
    return rows


def _mark_header_row(row: Any) -> None:
    # Repeat the column titles on every page when a table breaks across pages.
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)


# Style ids of python-docx's default template. Setting w:pStyle by id skips python-docx's lookup
# by display name, an XPath scan over every style per paragraph that dominated render time.
_STYLE_IDS = {"Title": "Title", "Heading 1": "Heading1", "List Bullet": "ListBullet"}


def _para(doc: Any, text: str, style: str) -> Any:
    p = doc.add_paragraph(text)
    p._p.style = _STYLE_IDS[style]
    return p


def _add_field(doc: Any, field: OutputField, value: Any) -> None:
    _para(doc, _one_line(field.title), "Heading 1")
    if field.kind == "text":
        text = clean_text(_as_text(value)).strip()
        paras = [p.strip("\n") for p in re.split(r"\n[ \t\u3000]*\n", text) if p.strip()]
        if not paras:
            doc.add_paragraph(EMPTY)
        for para in paras:
            doc.add_paragraph(para)  # single newlines become line breaks inside the paragraph
    elif field.kind == "list":
        items = _as_items(value)
        if not items:
            doc.add_paragraph(EMPTY)
        for item in items:
            _para(doc, item, "List Bullet")
    else:
        cols = field.columns or []
        rows = _as_rows(value, [c.name for c in cols])
        if not rows:
            doc.add_paragraph(EMPTY)
            return
        table = doc.add_table(rows=1 + len(rows), cols=len(cols))
        table.style = doc.styles["Table Grid"]
        header = table.rows[0]
        _mark_header_row(header)
        for cell, col in zip(header.cells, cols, strict=True):
            cell.paragraphs[0].add_run(_one_line(col.title)).bold = True
        for row, texts in zip(table.rows[1:], rows, strict=True):
            for cell, text in zip(row.cells, texts, strict=True):
                cell.text = text


def _add_rules(doc: Any, spec: PromptSpec) -> None:
    _para(doc, RULES_HEADING, "Heading 1")
    duty, forbidden, owner = _rules_lines(spec)
    _add_label_line(doc, "確認の義務", duty)
    if forbidden:
        _add_label_line(doc, "入力してはいけないもの", "")
        for item in forbidden:
            _para(doc, item, "List Bullet")
    _add_label_line(doc, "問い合わせ先", owner)


def _core(value: str) -> str:
    return _one_line(value)[:_CORE_PROP_MAX]


@lru_cache(maxsize=1)
def _template() -> Any:
    """The default document with Japanese fonts set, built once per process.

    Parsing python-docx's template and restyling it was the largest cost of a draft; a deep copy
    of the parsed tree is cheaper. The template is only ever read, so threads may copy it at once.
    """
    doc = Document()
    _set_japanese(doc)
    _slim(doc)
    return doc


# Parts of python-docx's template that a draft does not need: Word 2010's duplicate of the
# styles (438 KB), a custom XML item and a thumbnail of an empty page. Each was re-serialised
# and re-compressed for every draft.
_DROP_RELS = ("stylesWithEffects", "customXml", "thumbnail")
# Styles a draft uses (by id), and the headers python-docx adds; their basedOn / link / next
# styles are kept with them.
_KEEP_STYLES = (
    "Normal",
    "Title",
    "Heading1",
    "Heading2",
    "ListBullet",
    "TableGrid",
    "TableNormal",
    "DefaultParagraphFont",
    "NoList",
    "Header",
    "Footer",
)


def _slim(doc: Any) -> None:
    """Drop unused parts and the ~160 unused style definitions (350 KB of styles.xml)."""
    for rels in (doc.part.rels, doc.part.package.rels):
        for rid, rel in list(rels.items()):
            if not rel.is_external and rel.reltype.rsplit("/", 1)[-1] in _DROP_RELS:
                rels.pop(rid)  # nothing in the XML refers to these by id
    root = doc.styles.element
    by_id = {s.get(qn("w:styleId")): s for s in root.findall(qn("w:style"))}
    keep: set[str] = set()
    todo = [sid for sid in _KEEP_STYLES if sid in by_id]
    while todo:
        sid = todo.pop()
        if sid in keep:
            continue
        keep.add(sid)
        for tag in ("w:basedOn", "w:link", "w:next"):
            ref = by_id[sid].find(qn(tag))
            if ref is not None and ref.get(qn("w:val")) in by_id:
                todo.append(ref.get(qn("w:val")))
    for sid, style in by_id.items():
        if sid not in keep:
            root.remove(style)


def render_docx(spec: PromptSpec, output: dict[str, Any], meta: DraftMeta) -> bytes:
    doc = copy.deepcopy(_template())

    # The page header repeats the banner, so every printed page is marked as an unchecked draft.
    section = doc.sections[0]
    hp = section.header.paragraphs[0]
    hrun = hp.add_run(f"{BANNER}　{_one_line(meta.source_name)}")
    hrun.bold = True
    hrun.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)

    _add_banner(doc, meta)
    for label, value in _header_lines(spec, meta):
        _add_label_line(doc, label, value)

    _para(doc, _one_line(spec.title), "Title")
    for field in spec.output:
        _add_field(doc, field, output.get(field.name))
    _add_rules(doc, spec)

    cp = doc.core_properties
    cp.title = _core(f"{spec.title}（{meta.source_name}）")
    cp.author = "teichaku"
    cp.last_modified_by = "teichaku"
    cp.subject = _core(meta.source_name)
    cp.comments = _core(
        f"AI下書き・要確認 / spec {meta.spec_id} v{meta.spec_version} / {meta.engine} {meta.model}"
    )
    cp.identifier = document_key(meta.spec_id, meta.source_name)
    cp.category = _core(meta.department_name)
    cp.language = "ja-JP"
    cp.keywords = "teichaku, AI下書き"
    cp.revision = 1
    # python-docx writes the value with a literal "Z" without converting, so convert here.
    created = meta.created_at
    if created.tzinfo is not None:
        created = created.astimezone(UTC).replace(tzinfo=None)
    cp.created = created
    cp.modified = created

    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def render_draft(spec: PromptSpec, output: dict, meta: DraftMeta, *, stem: str) -> RenderedDraft:
    """Render both draft files in memory. Raises ConfigError when the spec's template is broken."""
    output = output or {}
    return RenderedDraft(
        stem=stem,
        markdown=render_markdown(spec, output, meta),
        docx_bytes=render_docx(spec, output, meta),
    )
