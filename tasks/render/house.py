"""The house-style Word draft: what a draft looks like when the spec names no company form.

A4 portrait with the margins Word uses for Japanese documents, Japanese fonts declared (Yu Gothic,
then Meiryo, then Noto Sans CJK JP), the document's own title, the 要確認 banner in the header of
every page and a page number in the footer. The body holds only the draft itself; provenance and
the spec's rules go to a final 確認用メモ page (or a Word comment on the title, if the spec says).
"""

from __future__ import annotations

import copy
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC
from functools import lru_cache
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.coreprops import CoreProperties
from docx.opc.oxml import serialize_part_xml
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Pt, RGBColor, Twips
from lxml import etree

from core.models import DraftMeta
from core.specs import PromptSpec
from tasks.render.blocks import RED, RED_HEX, Writer, add_run, notes_text, style_ids, text_width
from tasks.render.text import (
    BANNER,
    ReviewNotes,
    document_key,
    draft_title,
    header_text,
    one_line,
    review_notes,
)

# A4 portrait, and the margins of Word's Japanese 「標準」 layout (35 / 30 / 30 / 30 mm).
A4_WIDTH, A4_HEIGHT = 11906, 16838
MARGINS = {"top": 1984, "bottom": 1701, "left": 1701, "right": 1701, "header": 851, "footer": 992}

# Word falls back to a Chinese or Latin face for kana/kanji unless w:eastAsia names a Japanese
# font. Yu Gothic ships with Windows 8.1+ and macOS Office; Meiryo with Windows Vista+; Noto Sans
# CJK JP is what Linux and LibreOffice have. Each is declared in the font table with the
# Shift_JIS charset, which is what lets a viewer lacking the first pick another Japanese face.
EAST_ASIAN_FONT = "Yu Gothic"
LATIN_FONT = "Yu Gothic"
FONT_STACK = (
    ("Yu Gothic", "游ゴシック", "020B0400000000000000"),
    ("Meiryo", "メイリオ", "020B0604030504040204"),
    ("Noto Sans CJK JP", "Noto Sans CJK JP", "020B0500000000000000"),
)
_FONT_STYLES = (
    "Normal",
    "Title",
    "Heading 1",
    "Heading 2",
    "List Bullet",
    "Table Grid",
    "Header",
    "Footer",
)
# (size pt, bold, colour, space before pt, space after pt, centred) per style.
_LOOK = {
    "Normal": (10.5, None, None, None, 4, False),
    "Title": (16, True, "000000", 0, 12, True),
    "Heading 1": (12, True, "1F3864", 12, 4, False),
    "Heading 2": (11, True, "1F3864", 8, 2, False),
}

# Core properties are limited to 255 characters by python-docx (and by Office).
_CORE_PROP_MAX = 255


def _set_fonts(rpr: Any) -> None:
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
        _set_fonts(style.element.get_or_add_rPr())
    # The document defaults too: anything without a style of ours (a table cell) follows them.
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rpr)
    # Language tag drives Japanese line breaking (禁則処理) and proofing in Word.
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:eastAsia"), "ja-JP")
    _declare_fonts(doc)


def _declare_fonts(doc: Any) -> None:
    part = next(r.target_part for r in doc.part.rels.values() if r.reltype.endswith("/fontTable"))
    fonts = parse_xml(part.blob)
    for name, alt, panose in FONT_STACK:
        fonts.append(
            parse_xml(
                f'<w:font {nsdecls("w")} w:name="{name}"><w:altName w:val="{alt}"/>'
                f'<w:panose1 w:val="{panose}"/><w:charset w:val="80"/>'
                '<w:family w:val="swiss"/><w:pitch w:val="variable"/></w:font>'
            )
        )
    part._blob = etree.tostring(fonts, xml_declaration=True, encoding="UTF-8", standalone=True)


def _restyle(doc: Any) -> None:
    """Sizes and colours a Japanese business document uses, instead of Word 2010's blue display."""
    for name, (size, bold, colour, before, after, centred) in _LOOK.items():
        style = doc.styles[name]
        style.font.size = Pt(size)
        if bold:
            style.font.bold = True
        if colour:
            style.font.color.rgb = RGBColor.from_string(colour)
        fmt = style.paragraph_format
        if before is not None:
            fmt.space_before = Pt(before)
        fmt.space_after = Pt(after)
        if centred:
            fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
        ppr = style.element.pPr
        for border in ppr.findall(qn("w:pBdr")) if ppr is not None else ():
            ppr.remove(border)  # the Title's blue rule


def _page_setup(doc: Any) -> None:
    s = doc.sections[0]
    s.orientation = WD_ORIENT.PORTRAIT
    s.page_width, s.page_height = Twips(A4_WIDTH), Twips(A4_HEIGHT)
    s.top_margin, s.bottom_margin = Twips(MARGINS["top"]), Twips(MARGINS["bottom"])
    s.left_margin, s.right_margin = Twips(MARGINS["left"]), Twips(MARGINS["right"])
    s.header_distance, s.footer_distance = Twips(MARGINS["header"]), Twips(MARGINS["footer"])
    # The header and footer styles carry tab stops for US Letter; move them to A4's text width.
    width = A4_WIDTH - MARGINS["left"] - MARGINS["right"]
    for name in ("Header", "Footer"):
        tabs = doc.styles[name].element.pPr.find(qn("w:tabs"))
        if tabs is not None:
            centre, right = tabs.findall(qn("w:tab"))
            centre.set(qn("w:pos"), str(width // 2))
            right.set(qn("w:pos"), str(width))


@lru_cache(maxsize=1)
def _template() -> Any:
    """The default document in house style, built once per process.

    Parsing python-docx's template and restyling it was the largest cost of a draft; a deep copy
    of the parsed tree is cheaper. The template is only ever read, so threads may copy it at once.
    """
    doc = Document()
    _set_japanese(doc)
    _slim(doc)
    _restyle(doc)
    _page_setup(doc)
    # The header part (its one paragraph takes the banner) and the footer's page number.
    section = doc.sections[0]
    _ = section.header.paragraphs
    add_page_number(section.footer)
    return doc


@dataclass(frozen=True)
class _Package:
    """The house template as the members of its .docx, taken apart once per process.

    Copying the whole python-docx document for each draft (its package, parts and relationships
    are Python objects) and writing every part back out was half of a draft's rendering; only
    the body, the header's banner and the core properties differ between drafts, so those three
    elements are copied and serialised, and every other member is written as the bytes it had.
    """

    members: tuple[tuple[str, bytes], ...]  # (name, bytes) in python-docx's order
    document: Any  # w:document, its body ending with the section properties
    header: Any  # w:hdr with one empty paragraph
    core: Any  # cp:coreProperties
    styles: set[str]
    width: int


_DOCUMENT, _HEADER, _CORE = "word/document.xml", "word/header1.xml", "docProps/core.xml"


@lru_cache(maxsize=1)
def _package() -> _Package:
    doc = _template()
    buf = io.BytesIO()
    doc.save(buf)
    with zipfile.ZipFile(buf) as z:
        members = tuple((name, z.read(name)) for name in z.namelist())
    header = doc.sections[0].header._element
    assert {_DOCUMENT, _HEADER, _CORE} <= {name for name, _ in members}
    return _Package(
        members=members,
        document=doc.element,
        header=header,
        core=doc.core_properties._element,
        styles=style_ids(doc),
        width=text_width(doc),
    )


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
    "CommentText",
    "CommentReference",
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


def add_banner(header: Any, text: str) -> None:
    """The banner line at the top of a page header (red, bold): every printed page is marked."""
    p = header.paragraphs[0] if header.paragraphs and not header.paragraphs[0].text else None
    if p is None:
        p = header.add_paragraph()
        header._element.insert(0, p._p)  # first in the header, above a letterhead
    run = p.add_run(text)
    run.bold = True
    run.font.color.rgb = RED


def add_page_number(footer: Any) -> None:
    p = footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    # A simple field is a child of the paragraph; Word fills in the page number on every page.
    p._p.append(
        parse_xml(
            f'<w:fldSimple {nsdecls("w")} w:instr=" PAGE "><w:r><w:rPr><w:sz w:val="18"/></w:rPr>'
            "<w:t>1</w:t></w:r></w:fldSimple>"
        )
    )


def _title(doc: Any, text: str) -> Any:
    p = doc.add_paragraph()
    p._p.style = "Title"
    return p.add_run(text)


def _core_properties(cp: CoreProperties, title: str, meta: DraftMeta) -> None:
    cp.title = _core(title)
    cp.author = "teichaku"
    cp.last_modified_by = "teichaku"
    cp.subject = _core(meta.source_name)
    cp.comments = _core(
        f"AI下書き・要確認 / spec {meta.spec_id} v{meta.spec_version}（{meta.spec_title}）"
        f" / {meta.engine} {meta.model}"
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


def _core(value: str) -> str:
    return one_line(value)[:_CORE_PROP_MAX]


def render_docx(spec: PromptSpec, output: dict[str, Any], meta: DraftMeta) -> bytes:
    """The house-style Word draft, built from the structured output (real headings and tables)."""
    if spec.review_notes == "comment":
        return _render_with_comment(spec, output, meta)
    package = _package()
    document, header, core = (
        copy.deepcopy(e) for e in (package.document, package.header, package.core)
    )
    notes: ReviewNotes = review_notes(spec, meta)
    add_run(header.find(qn("w:p")), header_text(meta, notes), bold=True, colour=RED_HEX)
    title = draft_title(spec, output, meta)
    writer = Writer(document.find(qn("w:body")), package.styles, package.width)
    add_run(writer.para(style="Title"), title)
    for field in spec.output:
        writer.field(field, output.get(field.name))
    writer.notes(notes)
    _core_properties(CoreProperties(core), title, meta)
    fresh = {_DOCUMENT: document, _HEADER: header, _CORE: core}
    buf = io.BytesIO()
    # Deflate's fastest level: a third of the rendering CPU at the default level, for a draft
    # 10% larger (14 KB instead of 13).
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, data in package.members:
            el = fresh.get(name)
            z.writestr(name, data if el is None else serialize_part_xml(el))
    return buf.getvalue()


def _render_with_comment(spec: PromptSpec, output: dict[str, Any], meta: DraftMeta) -> bytes:
    """The same draft with the review notes in a Word comment on the title: python-docx adds the
    comments part (and its relationship and content type) to a copy of the whole document."""
    doc = copy.deepcopy(_template())
    notes: ReviewNotes = review_notes(spec, meta)
    add_banner(doc.sections[0].header, header_text(meta, notes))
    title = draft_title(spec, output, meta)
    title_run = _title(doc, title)
    writer = Writer.of(doc)
    for field in spec.output:
        writer.field(field, output.get(field.name))
    doc.add_comment(title_run, text=notes_text(notes), author="teichaku", initials="AI")
    _core_properties(doc.core_properties, title, meta)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


__all__ = ["A4_HEIGHT", "A4_WIDTH", "BANNER", "EAST_ASIAN_FONT", "FONT_STACK", "render_docx"]
