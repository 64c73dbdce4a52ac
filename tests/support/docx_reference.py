"""The draft body written through python-docx's own API: what tasks/render/blocks.Writer (which
builds the same elements with lxml, for speed) must produce byte for byte.

`ReferenceWriter` replaces the Writer's primitives (a paragraph with its run, a heading, a label,
a table) with what the Writer did before it bypassed python-docx: `add_paragraph` / `add_run`,
bold, colour and size through the run's font, tables by `add_table` with cell text and widths set
through the cell objects. Sections and the review notes are the Writer's own composition.
"""

from __future__ import annotations

from typing import Any

from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor, Twips

from tasks.render.blocks import Writer, style_ids, text_width
from tasks.render.text import one_line
from tasks.render.widths import column_widths


class ReferenceWriter(Writer):
    def __init__(self, doc: Any) -> None:
        super().__init__(doc.element.body, style_ids(doc), text_width(doc))
        self.doc = doc

    def para(
        self,
        text: str = "",
        style: str | None = None,
        *,
        bold: bool = False,
        colour: str | None = None,
        size: int | None = None,
    ) -> Any:
        p = self.doc.add_paragraph(text)
        if style and style in self.styles:
            p._p.style = style
        if p.runs:
            run = p.runs[0]
            if bold:
                run.bold = True
            if colour:
                run.font.color.rgb = RGBColor.from_string(colour)
            if size:
                run.font.size = Pt(size / 2)
        return p

    def heading(self, text: str, level: int = 1, *, page_break: bool = False) -> Any:
        sid = f"Heading{level}"
        if sid in self.styles:
            p = self.para(one_line(text), sid)
        else:
            p = self.doc.add_paragraph()
            run = p.add_run(one_line(text))
            run.bold = True
            run.font.size = Pt(12 if level == 1 else 11)
        if page_break:
            p.paragraph_format.page_break_before = True
        return p

    def label(self, label: str, value: str) -> Any:
        p = self.doc.add_paragraph()
        p.add_run(f"{label}: ").bold = True
        p.add_run(value)
        return p

    def table(self, header: list[str], rows: list[list[str]]) -> Any:
        table = self.doc.add_table(rows=1 + len(rows), cols=len(header))
        if "TableGrid" in self.styles:
            table.style = self.doc.styles["Table Grid"]
        else:
            _borders(table)
        head = table.rows[0]
        el = OxmlElement("w:tblHeader")
        el.set(qn("w:val"), "true")
        head._tr.get_or_add_trPr().append(el)
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


def _borders(table: Any) -> None:
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{side}")
        for name, value in (("val", "single"), ("sz", "4"), ("space", "0"), ("color", "auto")):
            el.set(qn(f"w:{name}"), value)
        borders.append(el)
    table._tbl.tblPr.append(borders)
