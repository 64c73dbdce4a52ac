"""Building blocks that write into any python-docx document: ours, or a company's form.

A form made in Word may lack our styles (見出し 1, 箇条書き, 表 (格子)); `Writer` then falls back
to bold runs, 「・」 items and explicit borders, so the 確認用メモ page reads the same in both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from docx.oxml.ns import qn
from docx.shared import Length, RGBColor
from lxml.etree import SubElement

from core.specs import OutputField
from tasks.render.text import (
    EMPTY,
    NOTES_HEADING,
    OFFLINE_NOTICE,
    RULES_HEADING,
    UNSHOWN_HEADING,
    ReviewNotes,
    as_items,
    as_rows,
    as_text,
    clean_text,
    one_line,
)
from tasks.render.widths import column_widths

RED = RGBColor(0xC0, 0x00, 0x00)
RED_HEX = str(RED)  # "C00000", as w:color writes it


def _w(*names: str) -> tuple[str, ...]:
    return tuple(qn(f"w:{n}") for n in names)


# Element names, resolved once: python-docx's generic child insertion (which searches every
# possible successor tag of an element to place a child) was ~60% of a draft's rendering CPU, so
# the Writer builds its paragraphs, runs and tables with lxml directly, in schema order: the XML
# python-docx writes, byte for byte (tests/tasks/test_render_blocks.py compares them).
_P, _PPR, _PSTYLE, _PAGE_BREAK = _w("p", "pPr", "pStyle", "pageBreakBefore")
_R, _RPR, _T, _B, _COLOR, _SZ, _BR, _TAB = _w("r", "rPr", "t", "b", "color", "sz", "br", "tab")
_TBL, _TBLPR, _TBLSTYLE, _TBLW = _w("tbl", "tblPr", "tblStyle", "tblW")
_TBLLAYOUT, _TBLLOOK, _GRID, _GRIDCOL = _w("tblLayout", "tblLook", "tblGrid", "gridCol")
_TR, _TRPR, _TBLHEADER, _TC, _TCPR, _TCW = _w("tr", "trPr", "tblHeader", "tc", "tcPr", "tcW")
_VAL, _W, _TYPE, _SECT = _w("val", "w", "type", "sectPr")
_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
_LOOK = (
    ("firstColumn", "1"),
    ("firstRow", "1"),
    ("lastColumn", "0"),
    ("lastRow", "0"),
    ("noHBand", "0"),
    ("noVBand", "1"),
    ("val", "04A0"),
)
# A tab is a w:tab, a line break (either kind) a w:br: what python-docx's run.text does.
_RUN_CONTROLS = re.compile(r"([\t\r\n])")


def add_text(r: Any, text: str) -> None:
    """A run's content for `text`: w:t pieces, w:tab for tabs, w:br for each CR or LF."""
    for piece in _RUN_CONTROLS.split(text):
        if piece == "\t":
            SubElement(r, _TAB)
        elif piece in ("\r", "\n"):
            SubElement(r, _BR)
        elif piece:
            t = SubElement(r, _T)
            t.text = piece
            if len(piece.strip()) < len(piece):
                t.set(_SPACE, "preserve")


def add_run(
    p: Any, text: str, *, bold: bool = False, colour: str | None = None, size: int | None = None
) -> Any:
    """A w:r at the end of paragraph element `p` (size in half-points)."""
    r = SubElement(p, _R)
    if bold or colour or size:
        rpr = SubElement(r, _RPR)
        if bold:
            SubElement(rpr, _B)
        if colour:
            SubElement(rpr, _COLOR).set(_VAL, colour)
        if size:
            SubElement(rpr, _SZ).set(_VAL, str(size))
    add_text(r, text)
    return r


class Writer:
    """Appends paragraphs, lists and tables to the end of a document's body."""

    def __init__(self, body: Any, styles: set[str], width: int) -> None:
        """Write into `body` (a w:body element) of a document with these style ids, whose text is
        `width` twips wide (table columns are fitted to it)."""
        self.styles = styles
        self.width = width
        self._body = body
        # New blocks go before the body's section properties, which must stay last.
        last = body[-1] if len(body) else None
        self._end = last if last is not None and last.tag == _SECT else None

    @classmethod
    def of(cls, doc: Any) -> Writer:
        """A writer appending to the end of a python-docx document (ours, or a company's form)."""
        return cls(doc.element.body, style_ids(doc), text_width(doc))

    def _append(self, el: Any) -> Any:
        if self._end is None:
            self._body.append(el)
        else:
            self._end.addprevious(el)
        return el

    def _p(self, style: str | None = None, *, page_break: bool = False) -> Any:
        p = self._append(self._body.makeelement(_P))
        if style or page_break:
            ppr = SubElement(p, _PPR)
            if style:
                SubElement(ppr, _PSTYLE).set(_VAL, style)
            if page_break:
                SubElement(ppr, _PAGE_BREAK)
        return p

    def para(self, text: str = "", style: str | None = None, **run: Any) -> Any:
        """A paragraph (style by id, only if the document has it) with one run of `text`."""
        p = self._p(style if style and style in self.styles else None)
        if text:
            add_run(p, text, **run)
        return p

    def heading(self, text: str, level: int = 1, *, page_break: bool = False) -> Any:
        sid = f"Heading{level}"
        if sid in self.styles:
            p = self._p(sid, page_break=page_break)
            if text := one_line(text):
                add_run(p, text)
            return p
        p = self._p(page_break=page_break)
        add_run(p, one_line(text), bold=True, size=24 if level == 1 else 22)
        return p

    def bullet(self, text: str) -> Any:
        if "ListBullet" in self.styles:
            return self.para(text, "ListBullet")
        return self.para(f"・{text}")

    def label(self, label: str, value: str) -> Any:
        p = self._p()
        add_run(p, f"{label}: ", bold=True)
        add_run(p, value)
        return p

    def field(self, field: OutputField, value: Any, level: int = 1) -> None:
        """One output section: its heading, then prose, bullets or a table."""
        self.heading(field.title, level)
        if field.kind == "text":
            text = clean_text(as_text(value)).strip()
            paras = [p.strip("\n") for p in re.split(r"\n[ \t\u3000]*\n", text) if p.strip()]
            for para in paras or [EMPTY]:
                self.para(para)  # single newlines become line breaks
        elif field.kind == "list":
            items = as_items(value)
            if not items:
                self.para(EMPTY)
            for item in items:
                self.bullet(item)
        else:
            cols = field.columns or []
            rows = as_rows(value, [c.name for c in cols])
            if not rows:
                self.para(EMPTY)
                return
            self.table([one_line(c.title) for c in cols], rows)

    def table(self, header: list[str], rows: list[list[str]]) -> Any:
        """A fixed-width table: the header row bold and repeated on every page."""
        widths = column_widths(header, rows, self.width)
        tbl = self._append(self._body.makeelement(_TBL))
        pr = SubElement(tbl, _TBLPR)
        if "TableGrid" in self.styles:
            SubElement(pr, _TBLSTYLE).set(_VAL, "TableGrid")
        tbl_w = SubElement(pr, _TBLW)
        tbl_w.set(_TYPE, "dxa")
        tbl_w.set(_W, str(sum(widths)))
        SubElement(pr, _TBLLAYOUT).set(_TYPE, "fixed")
        look = SubElement(pr, _TBLLOOK)
        for name, value in _LOOK:
            look.set(qn(f"w:{name}"), value)
        if "TableGrid" not in self.styles:
            _borders(pr)
        grid = SubElement(tbl, _GRID)
        for w in widths:
            SubElement(grid, _GRIDCOL).set(_W, str(w))
        for i, texts in enumerate([header, *rows]):
            tr = SubElement(tbl, _TR)
            if i == 0:
                # Repeat the column titles on every page when a table breaks across pages.
                SubElement(SubElement(tr, _TRPR), _TBLHEADER).set(_VAL, "true")
            for text, w in zip(texts, widths, strict=True):
                tc = SubElement(tr, _TC)
                tc_w = SubElement(SubElement(tc, _TCPR), _TCW)
                tc_w.set(_TYPE, "dxa")
                tc_w.set(_W, str(w))
                p = SubElement(tc, _P)
                if i == 0:
                    add_run(p, text, bold=True)
                else:
                    add_run(p, text)
        return tbl

    def notes(self, notes: ReviewNotes, unshown: Sequence[tuple[OutputField, Any]] = ()) -> None:
        """The final 確認用メモ page: provenance, warnings, what a form did not show, the rules."""
        # Page break before the heading (not an empty paragraph holding a break): the page starts
        # with its heading, and Word's 「改ページ前」 keeps it there when someone edits above.
        self.heading(NOTES_HEADING, page_break=True)
        self.para("この頁は確認用です。提出・送付の前に削除してください。", colour=RED_HEX)
        if notes.offline:
            self.para(OFFLINE_NOTICE, bold=True)
        for label, value in (*notes.provenance, *notes.warnings):
            self.label(label, value)
        if unshown:
            self.heading(UNSHOWN_HEADING, 2)
            for field, value in unshown:
                self.field(field, value, 3)
        self.heading(RULES_HEADING, 2)
        self.label("確認の義務", notes.duty)
        if notes.forbidden:
            self.label("入力してはいけないもの", "")
            for item in notes.forbidden:
                self.bullet(item)
        self.label("問い合わせ先", notes.owner)


def notes_text(notes: ReviewNotes) -> str:
    """The review notes as plain lines, for a Word comment."""
    lines = [OFFLINE_NOTICE] if notes.offline else []
    lines += [f"{k}: {v}" for k, v in (*notes.provenance, *notes.warnings)]
    lines.append(f"{RULES_HEADING} — 確認の義務: {notes.duty}")
    if notes.forbidden:
        lines.append("入力してはいけないもの: " + "、".join(notes.forbidden))
    lines.append(f"問い合わせ先: {notes.owner}")
    return "\n".join(lines)


def style_ids(doc: Any) -> set[str]:
    return {s.get(qn("w:styleId")) for s in doc.styles.element.findall(qn("w:style"))}


def text_width(doc: Any) -> int:
    """Twips between the margins of the last section (where new content goes)."""
    s = doc.sections[-1]
    try:
        width = int(s.page_width - s.left_margin - s.right_margin)
    except TypeError:  # a form without w:pgSz / w:pgMar: Word's A4 default
        return 8504
    return max(Length(width).twips, 1440)


def _borders(tbl_pr: Any) -> None:
    """Single borders on every edge, for a form that lacks the 表 (格子) style."""
    borders = SubElement(tbl_pr, qn("w:tblBorders"))
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = SubElement(borders, qn(f"w:{side}"))
        el.set(qn("w:val"), "single")
        el.set(qn("w:sz"), "4")
        el.set(qn("w:space"), "0")
        el.set(qn("w:color"), "auto")
