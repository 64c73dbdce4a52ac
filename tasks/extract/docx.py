"""Word .docx: paragraphs, tables, text boxes, headers and footers, in document order.

Bounded before python-docx opens it: `archive.check_zip` reads only the zip's central directory
and refuses OLE files (password-protected or a renamed .doc), broken or cut archives and zip
bombs (`intake.zip_max_total_mb`, `intake.zip_max_ratio`). The XML is then walked directly, so
text boxes and content controls are not lost as python-docx's `paragraphs` would lose them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from core.errors import Refusal
from core.models import ExtractedDocument, RefusalKind
from core.settings import IntakeSettings
from tasks.extract.archive import check_office_zip

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _check_word_archive(path: Path, limits: IntakeSettings) -> None:
    check_office_zip(
        path,
        limits,
        main_part="word/document.xml",
        legacy_stream="WordDocument",
        legacy_suffix=".doc",
        suffix_label="a .docx suffix",
    )


def _paragraph_text(p: Any) -> tuple[str, list[Any]]:
    """Text of one w:p, plus the text boxes anchored in it (read as separate blocks)."""
    parts: list[str] = []
    boxes: list[Any] = []
    stack = [p]
    while stack:
        el = stack.pop()
        tag = el.tag
        if not isinstance(tag, str):  # comments, processing instructions
            continue
        if tag == _W + "txbxContent":
            boxes.append(el)
            continue
        # Word writes each text box twice (DrawingML and a VML fallback); deleted
        # tracked changes are not part of the current text.
        if tag in (_MC_FALLBACK, _W + "del", _W + "pPr", _W + "rPr"):
            continue
        if tag == _W + "t":
            parts.append(el.text or "")
        elif tag == _W + "tab":
            parts.append("\t")
        elif tag in (_W + "br", _W + "cr"):
            parts.append("\n")
        elif tag == _W + "noBreakHyphen":
            parts.append("-")
        stack.extend(reversed(el))
    return "".join(parts), boxes


def _children(el: Any, tag: str) -> list[Any]:
    """Direct `tag` children, looking through content controls (w:sdt) that wrap them."""
    found: list[Any] = []
    for child in el:
        if child.tag == _W + tag:
            found.append(child)
        elif child.tag == _W + "sdt":
            content = child.find(_W + "sdtContent")
            if content is not None:
                found.extend(_children(content, tag))
    return found


def _table_lines(tbl: Any) -> list[str]:
    lines: list[str] = []
    for tr in _children(tbl, "tr"):
        # One line per row; a cell's paragraphs and nested tables are flattened into it.
        texts = [" ".join(" ".join(_block_lines(tc)).split()) for tc in _children(tr, "tc")]
        if any(texts):
            lines.append(" | ".join(texts))
    return lines


def _block_lines(container: Any) -> list[str]:
    """Paragraphs and tables of a body, cell, header or text box, in document order."""
    lines: list[str] = []
    for child in container:
        tag = child.tag
        if tag == _W + "p":
            text, boxes = _paragraph_text(child)
            if text.strip():
                lines.append(text)
            for box in boxes:
                lines.extend(_block_lines(box))
        elif tag == _W + "tbl":
            lines.extend(_table_lines(child))
        elif tag in (_W + "sdt", _W + "customXml", _W + "smartTag"):
            content = child.find(_W + "sdtContent") if tag == _W + "sdt" else child
            if content is not None:
                lines.extend(_block_lines(content))
        elif tag in (_W + "ins", _W + "moveTo"):
            lines.extend(_block_lines(child))
    return lines


def _header_footer_lines(doc: Any) -> tuple[list[str], list[str]]:
    headers: list[str] = []
    footers: list[str] = []
    for section in doc.sections:
        for target, parts in (
            (headers, (section.first_page_header, section.header, section.even_page_header)),
            (footers, (section.first_page_footer, section.footer, section.even_page_footer)),
        ):
            for part in parts:
                # A linked part has no definition of its own; touching it would create one.
                if part.is_linked_to_previous:
                    continue
                for line in _block_lines(part._element):
                    if line not in target:
                        target.append(line)
    return headers, footers


class _DocxReader:
    source_type = "docx"
    suffixes = frozenset({".docx"})
    in_child = False

    def read(self, path: Path, limits: IntakeSettings) -> ExtractedDocument:
        _check_word_archive(path, limits)
        # python-docx + lxml ~42 ms (-X importtime), not preloaded by the forkserver (tasks.extract is): loaded only by a batch that reads a .docx.
        import docx
        from lxml import etree

        try:
            doc = docx.Document(str(path))
            body = _block_lines(doc.element.body)
            headers, footers = _header_footer_lines(doc)
        except (KeyError, etree.LxmlError, zipfile.BadZipFile) as e:
            raise Refusal(RefusalKind.CORRUPT, f"{type(e).__name__}: {e}") from e
        except ValueError as e:
            # python-docx says "... is not a Word file, content type is ..." for other packages.
            raise Refusal(RefusalKind.CORRUPT, f"ValueError: {e}") from e
        text = "\n".join([*headers, *body, *footers])
        return ExtractedDocument(text=text, source_type=self.source_type)


READER = _DocxReader()
