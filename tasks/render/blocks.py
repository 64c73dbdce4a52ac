"""Building blocks that write into any python-docx document: ours, or a company's form.

A form made in Word may lack our styles (見出し 1, 箇条書き, 表 (格子)); `Writer` then falls back
to bold runs, 「・」 items and explicit borders, so the 確認用メモ page reads the same in both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Length, Pt, RGBColor, Twips

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


class Writer:
    """Appends paragraphs, lists and tables to the end of a document's body."""

    def __init__(self, doc: Any) -> None:
        self.doc = doc
        self.styles = {s.get(qn("w:styleId")) for s in doc.styles.element.findall(qn("w:style"))}

    def para(self, text: str = "", style: str | None = None) -> Any:
        p = self.doc.add_paragraph(text)
        if style and style in self.styles:
            # By id: python-docx's lookup by display name scans every style per paragraph.
            p._p.style = style
        return p

    def heading(self, text: str, level: int = 1) -> Any:
        sid = f"Heading{level}"
        if sid in self.styles:
            return self.para(one_line(text), sid)
        p = self.doc.add_paragraph()
        run = p.add_run(one_line(text))
        run.bold = True
        run.font.size = Pt(12 if level == 1 else 11)
        return p

    def bullet(self, text: str) -> Any:
        if "ListBullet" in self.styles:
            return self.para(text, "ListBullet")
        return self.para(f"・{text}")

    def label(self, label: str, value: str) -> Any:
        p = self.doc.add_paragraph()
        p.add_run(f"{label}: ").bold = True
        p.add_run(value)
        return p

    def field(self, field: OutputField, value: Any, level: int = 1) -> None:
        """One output section: its heading, then prose, bullets or a table."""
        self.heading(field.title, level)
        if field.kind == "text":
            text = clean_text(as_text(value)).strip()
            paras = [p.strip("\n") for p in re.split(r"\n[ \t\u3000]*\n", text) if p.strip()]
            for para in paras or [EMPTY]:
                self.doc.add_paragraph(para)  # single newlines become line breaks
        elif field.kind == "list":
            items = as_items(value)
            if not items:
                self.doc.add_paragraph(EMPTY)
            for item in items:
                self.bullet(item)
        else:
            cols = field.columns or []
            rows = as_rows(value, [c.name for c in cols])
            if not rows:
                self.doc.add_paragraph(EMPTY)
                return
            self.table([one_line(c.title) for c in cols], rows)

    def table(self, header: list[str], rows: list[list[str]]) -> Any:
        table = self.doc.add_table(rows=1 + len(rows), cols=len(header))
        if "TableGrid" in self.styles:
            table.style = self.doc.styles["Table Grid"]
        else:
            _borders(table)
        head = table.rows[0]
        _repeat_header(head)
        for cell, title in zip(head.cells, header, strict=True):
            cell.paragraphs[0].add_run(title).bold = True
        for row, texts in zip(table.rows[1:], rows, strict=True):
            for cell, text in zip(row.cells, texts, strict=True):
                cell.text = text
        set_widths(table, column_widths(header, rows, text_width(self.doc)))
        return table

    def notes(self, notes: ReviewNotes, unshown: Sequence[tuple[OutputField, Any]] = ()) -> None:
        """The final 確認用メモ page: provenance, warnings, what a form did not show, the rules."""
        # Page break before the heading (not an empty paragraph holding a break): the page starts
        # with its heading, and Word's 「改ページ前」 keeps it there when someone edits above.
        self.heading(NOTES_HEADING).paragraph_format.page_break_before = True
        p = self.para("この頁は確認用です。提出・送付の前に削除してください。")
        p.runs[0].font.color.rgb = RED
        if notes.offline:
            self.para(OFFLINE_NOTICE).runs[0].bold = True
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


def text_width(doc: Any) -> int:
    """Twips between the margins of the last section (where new content goes)."""
    s = doc.sections[-1]
    try:
        width = int(s.page_width - s.left_margin - s.right_margin)
    except TypeError:  # a form without w:pgSz / w:pgMar: Word's A4 default
        return 8504
    return max(Length(width).twips, 1440)


def set_widths(table: Any, widths: list[int]) -> None:
    """Fixed column widths (twips) in the grid, the table and every cell, as Word expects."""
    table.autofit = False
    tbl_pr = table._tbl.tblPr
    tbl_w = tbl_pr.find(qn("w:tblW"))
    if tbl_w is None:
        tbl_w = OxmlElement("w:tblW")
        tbl_pr.append(tbl_w)
    tbl_w.set(qn("w:w"), str(sum(widths)))
    tbl_w.set(qn("w:type"), "dxa")
    for col, w in zip(table.columns, widths, strict=True):
        col.width = Twips(w)
    for row in table.rows:
        for cell, w in zip(row.cells, widths, strict=True):
            cell.width = Twips(w)


def _repeat_header(row: Any) -> None:
    # Repeat the column titles on every page when a table breaks across pages.
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)


def _borders(table: Any) -> None:
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:val"), "single")
        el.set(qn("w:sz"), "4")
        el.set(qn("w:space"), "0")
        el.set(qn("w:color"), "auto")
        borders.append(el)
    table._tbl.tblPr.append(borders)
