"""The draft body written through python-docx's own API: what tasks/render/blocks.Writer (which
builds the same elements with lxml, for speed) must produce byte for byte.

This is the Writer as it was before it bypassed python-docx, kept as the reference the tests
compare against: paragraphs by `add_paragraph` / `add_run`, bold and colour through the run's
font, tables by `add_table` with cell text and widths set through the cell objects.
"""

from __future__ import annotations

import re
from typing import Any

from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, Twips

from core.specs import OutputField
from tasks.render.blocks import RED, style_ids, text_width
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


class ReferenceWriter:
    def __init__(self, doc: Any) -> None:
        self.doc = doc
        self.styles = style_ids(doc)

    def para(self, text: str = "", style: str | None = None) -> Any:
        p = self.doc.add_paragraph(text)
        if style and style in self.styles:
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
        self.heading(field.title, level)
        if field.kind == "text":
            text = clean_text(as_text(value)).strip()
            paras = [p.strip("\n") for p in re.split(r"\n[ \t\u3000]*\n", text) if p.strip()]
            for para in paras or [EMPTY]:
                self.doc.add_paragraph(para)
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
        trpr = head._tr.get_or_add_trPr()
        el = OxmlElement("w:tblHeader")
        el.set(qn("w:val"), "true")
        trpr.append(el)
        for cell, title in zip(head.cells, header, strict=True):
            cell.paragraphs[0].add_run(title).bold = True
        for row, texts in zip(table.rows[1:], rows, strict=True):
            for cell, text in zip(row.cells, texts, strict=True):
                cell.text = text
        widths = column_widths(header, rows, text_width(self.doc))
        table.autofit = False
        tbl_w = table._tbl.tblPr.find(qn("w:tblW"))
        tbl_w.set(qn("w:w"), str(sum(widths)))
        tbl_w.set(qn("w:type"), "dxa")
        for col, w in zip(table.columns, widths, strict=True):
            col.width = Twips(w)
        for row in table.rows:
            for cell, w in zip(row.cells, widths, strict=True):
                cell.width = Twips(w)
        return table

    def notes(self, notes: ReviewNotes, unshown=()) -> None:
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
