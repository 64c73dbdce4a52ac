"""PDF text layers pypdf cannot read: non-Unicode CMaps (EUC-H, 90ms-RKSJ-H...) and vertical text.

Japanese PDFs made by older tools use Adobe-Japan1 CMaps that pypdf does not know, so it
decodes them into Hangul, Greek, Thai or private-use characters (mojibake that reads as
letters to a naive check). `layer_problem` names such a layer: replacement and control
characters, `(cid:N)` placeholders, or a mix of scripts no Japanese document has.
pdfminer.six ships the Adobe CMaps: `decode_work` re-reads the layer with it in a bounded
child (the same time and memory bounds as pypdf's) and puts vertical text (縦書き) in reading
order: columns right to left, characters top to bottom, the tiers (段) of a gazette page top
to bottom. What still fails goes to OCR; nothing garbled reaches a model or a draft.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from core.errors import Refusal
from core.models import ExtractedDocument, RefusalKind
from core.settings import IntakeSettings
from tasks.extract.bounded import run_bounded
from tasks.extract.cleaning import looks_garbled
from tasks.extract.ocr import ocr_document
from tasks.extract.peek import file_contains
from tasks.extract.reading_order import tiers

# The general ENCODING reason speaks of text files; a PDF needs its own advice.
PDF_ENCODING_REASON_JA = (
    "PDF の文字情報を正しく読み取れませんでした（古いソフトで作られた PDF の文字コード、"
    "または文字を画像化できない PDF です）。元のアプリから PDF を書き出し直すか、"
    "印刷してスキャンした PDF か Word 文書を入れてください。"
)

_CID = re.compile(r"\(cid:\d+\)")
# Scripts that a Japanese office document does not mix into its text: Hangul, Greek, Cyrillic,
# Armenian..Thai (Hebrew, Arabic, Indic), Georgian, Ethiopic, Cherokee and others.
_FOREIGN = re.compile(
    "[\u0370-\u03ff\u0400-\u052f\u0530-\u0e7f\u10a0-\u13ff\u1100-\u11ff"
    "\u3130-\u318f\uac00-\ud7a3\ua000-\ua4cf]"
)
# Vertical CMaps: a font written top to bottom (pypdf reads it in stream order, not reading order).
_VERTICAL_MARKERS = (b"Identity-V", b"UniJIS-UCS2-V", b"UniJIS-UTF16-V", b"RKSJ-V", b"EUC-V")


def layer_problem(text: str) -> str | None:
    """Why this text layer is not real text, or None when it reads as text."""
    reason = looks_garbled(text, check_letters=True)
    if reason:
        return reason
    visible = [ch for ch in text if not ch.isspace()]
    if len(visible) < 10:
        return None
    cids = len(_CID.findall(text))
    if cids * 5 > len(visible) * 0.1:
        return f"text layer has {cids} unmapped (cid:N) glyphs"
    foreign = sum(1 for ch in visible if _FOREIGN.match(ch))
    if foreign > 0.10 * len(visible):
        return f"text layer mixes scripts: {foreign / len(visible):.0%} Hangul/Greek/Thai/... characters"
    return None


def has_vertical_fonts(path: Path) -> bool:
    """True when the file names a vertical CMap (a chunked byte scan, no parsing)."""
    return any(file_contains(path, marker) for marker in _VERTICAL_MARKERS)


def _line_items(layout: Any) -> list[tuple[float, float, float, bool, str]]:
    # pdfminer.six ~95 ms (-X importtime), only in the pdfminer child; the forkserver lacks it.
    from pdfminer.layout import LTTextBox, LTTextLineVertical

    items = []
    for box in layout:
        if not isinstance(box, LTTextBox):
            continue
        for line in box:
            text = line.get_text().strip()
            if text:
                vertical = isinstance(line, LTTextLineVertical)
                x = -line.x1 if vertical else line.x0  # vertical columns: right to left
                items.append((line.y1, line.y0, x, vertical, text))
    return items


def _bands(items: list[tuple[float, float, float, bool, str]]) -> list[list[Any]]:
    """Lines grouped into horizontal tiers by vertical overlap, top tier first."""
    # PDF y grows upward: negated, (y1, y0) is the (top, bottom) that `tiers` reads.
    return tiers(sorted(items, key=lambda i: -i[0]), lambda i: (-i[0], -i[1]))


def page_text(layout: Any) -> str:
    """One page in reading order; vertical pages by tiers, columns right to left."""
    items = _line_items(layout)
    vertical = sum(len(i[4]) for i in items if i[3])
    if vertical <= sum(len(i[4]) for i in items if not i[3]):
        # Horizontal: pdfminer's own box order (top to bottom, columns detected) is right.
        return "\n".join(i[4] for i in sorted(items, key=lambda i: (-i[0], i[2])))
    return "\n".join(
        "\n".join(i[4] for i in sorted(band, key=lambda i: i[2])) for band in _bands(items)
    )


def decode_work(path: str, max_pages: int) -> tuple[Any, ...]:
    """Runs in a bounded child: ("ok", page texts) read by pdfminer.six, or ("broken", detail)."""
    # pdfminer.six ~95 ms (-X importtime), only in the pdfminer child; the forkserver lacks it.
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams

    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    texts: list[str] = []
    try:
        params = LAParams(detect_vertical=True)
        for layout in extract_pages(path, laparams=params, maxpages=max_pages):
            texts.append(page_text(layout))
    except MemoryError:
        raise
    except Exception as e:
        return ("broken", f"pdfminer: {type(e).__name__}: {e}"[:1000])
    return ("ok", texts)


def _decode(path: Path, limits: IntakeSettings) -> list[str] | str:
    """pdfminer's page texts, or why they are no better than pypdf's."""
    result = run_bounded(
        decode_work,
        (str(path), limits.pdf_max_pages),
        timeout=limits.pdf_timeout_seconds,
        memory_mb=limits.pdf_memory_mb,
        what="pdfminer",
    )
    if result[0] != "ok":
        return f"{result[0]}: {result[1]}"
    texts: list[str] = result[1]
    joined = "\n\n".join(texts)
    if sum(1 for ch in joined if not ch.isspace()) < 10:
        return "pdfminer found no text"
    return layer_problem(joined) or texts


def reread_layer(
    path: Path, texts: list[str], limits: IntakeSettings, warnings: list[str]
) -> ExtractedDocument | None:
    """A better reading than pypdf's `texts`, or None when pypdf's text is real text.

    A garbled layer is decoded again with the Adobe-Japan1 CMaps (pdfminer.six); a vertical
    one is put in reading order; when that fails too, the pages are OCR'd. Raises Refusal
    (with a reason fit for a PDF) only when OCR finds nothing either.
    """
    problem = layer_problem("\n\n".join(texts))
    if problem is None and not has_vertical_fonts(path):
        return None
    decoded = _decode(path, limits)
    if isinstance(decoded, list):
        return ExtractedDocument(
            text="\n\n".join(decoded), source_type="pdf", pages=len(decoded), warnings=warnings
        )
    if problem is None:
        return None  # vertical fonts, but pdfminer did no better: pypdf's reading stands
    try:
        return ocr_document("pdf", path, limits, "pdf")
    except Refusal as refusal:
        if refusal.kind is not RefusalKind.SCANNED:
            raise
        raise Refusal(
            RefusalKind.ENCODING,
            f"{problem}; pdfminer: {decoded}; OCR: {refusal.detail}",
            reason_ja=PDF_ENCODING_REASON_JA,
        ) from refusal
