"""PowerPoint .pptx: every slide in order, its title, text boxes (inside groups too), tables, notes.

Bounded like the other Office readers: `archive.check_zip` refuses OLE files (a
password-protected deck, or a legacy .ppt renamed), broken archives and zip bombs before
python-pptx opens it; python-pptx parses with lxml and does not resolve external entities.
Shapes are read top to bottom, then left to right, as a person reads a slide; a group's
shapes are read where the group sits. Tables are graphic frames: one line per row, cells
joined by 「 | 」. Speaker notes follow the slide, marked as notes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.models import ExtractedDocument
from core.settings import IntakeSettings
from tasks.extract.archive import check_office_zip


def _check_deck_archive(path: Path, limits: IntakeSettings) -> None:
    check_office_zip(
        path,
        limits,
        main_part="ppt/presentation.xml",
        legacy_stream="PowerPoint Document",
        legacy_suffix=".ppt",
        suffix_label="a .pptx suffix",
    )


def _reading_order(shapes: Any) -> list[Any]:
    return sorted(shapes, key=lambda s: ((s.top or 0) // 100_000, s.left or 0))


def shape_lines(shape: Any, title_id: int | None) -> list[str]:
    """The text of one shape (a group: of its shapes), except the title placeholder."""
    if shape.shape_id == title_id:
        return []
    if shape.shape_type is not None and shape.shape_type == 6:  # MSO_SHAPE_TYPE.GROUP
        return [line for s in _reading_order(shape.shapes) for line in shape_lines(s, title_id)]
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = []
        for row in shape.table.rows:
            cells = [" ".join(c.text.split()) for c in row.cells]
            if any(cells):
                rows.append(" | ".join(cells))
        return rows
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        return [p.text for p in shape.text_frame.paragraphs if p.text.strip()]
    return []


def slide_block(number: int, slide: Any) -> str:
    """「■ スライド n：title」, its shapes' text, then 「（ノート）…」."""
    title_shape = slide.shapes.title
    title = " ".join(title_shape.text.split()) if title_shape is not None else ""
    title_id = title_shape.shape_id if title_shape is not None else None
    lines = [f"■ スライド {number}：{title}" if title else f"■ スライド {number}"]
    for shape in _reading_order(slide.shapes):
        lines.extend(shape_lines(shape, title_id))
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None and notes.text.strip():
            lines.append("（ノート）" + " ".join(notes.text.split()))
    return "\n".join(lines)


class _PptxReader:
    source_type = "pptx"
    suffixes = frozenset({".pptx"})
    in_child = False

    def read(self, path: Path, limits: IntakeSettings) -> ExtractedDocument:
        _check_deck_archive(path, limits)
        # python-pptx ~114 ms (-X importtime), not preloaded by the forkserver (tasks.extract is): loaded only by a batch that reads a .pptx.
        from pptx import Presentation

        deck = Presentation(str(path))
        blocks = [slide_block(i, slide) for i, slide in enumerate(deck.slides, start=1)]
        return ExtractedDocument(
            text="\n\n".join(blocks), source_type=self.source_type, pages=len(blocks)
        )


READER = _PptxReader()
