"""Scanned pages and phone photos drawn from Japanese text, for the OCR reader's tests and bench.

Pages are drawn with a real CJK font (Noto Sans CJK from Debian's fonts-noto-cjk, which .ci/run
installs; IPAex Gothic or any font fc-match names for Japanese also works) and then made to look
like what an office scanner or a phone produces: tilted a degree, speckled, upside down, or
photographed at an angle with uneven light and JPEG loss. Each maker writes to `path`, creates
missing parent folders and returns `path`, like the makers in builders.py.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

# Known locations first (no subprocess); fc-match as the last resort.
_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
)
# Index of the JP face inside Noto's .ttc collections (JP, KR, SC, TC, HK).
_NOTO_JP_INDEX = 0

A4_MM = (210, 297)


@cache
def cjk_font_path() -> Path | None:
    """A font file that draws Japanese, or None when the machine has none."""
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    if shutil.which("fc-match"):
        out = subprocess.run(
            ["fc-match", "-f", "%{file}", ":lang=ja"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if out and Path(out).is_file() and not out.endswith((".pfb", ".pcf.gz")):
            return Path(out)
    return None


def _font(size_px: int):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    path = cjk_font_path()
    if path is None:
        raise RuntimeError("no Japanese font: apt-get install fonts-noto-cjk")
    return ImageFont.truetype(str(path), size_px, index=_NOTO_JP_INDEX)


def _mm(mm: float, dpi: int) -> int:
    return round(mm / 25.4 * dpi)


def draw_page(
    lines: Sequence[str], *, dpi: int = 300, point_size: float = 10.5, height_mm: float = 297
) -> Image.Image:
    """A clean white A4-wide page (grayscale) with `lines` set left to right, 20 mm margins."""
    from PIL import Image, ImageDraw

    width, height = _mm(A4_MM[0], dpi), _mm(height_mm, dpi)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    size_px = round(point_size / 72 * dpi)
    font = _font(size_px)
    x, y = _mm(20, dpi), _mm(20, dpi)
    for line in lines:
        if line:
            draw.text((x, y), line, fill=0, font=font)
        y += round(size_px * 1.7)
    return page


def draw_vertical_page(
    columns: Sequence[str], *, dpi: int = 200, point_size: float = 15
) -> Image.Image:
    """A 縦書き page: one column per string, top to bottom, the first column on the right."""
    from PIL import Image, ImageDraw

    width, height = _mm(A4_MM[0], dpi), _mm(A4_MM[1], dpi)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    size_px = round(point_size / 72 * dpi)
    font = _font(size_px)
    for i, column in enumerate(columns):
        x = width - _mm(30, dpi) - i * round(size_px * 2)
        for j, ch in enumerate(column):
            draw.text((x, _mm(20, dpi) + j * round(size_px * 1.15)), ch, fill=0, font=font)
    return page


def degrade(
    page: Image.Image,
    *,
    tilt_degrees: float = 0.0,
    speckle: float = 0.0,
    upside_down: bool = False,
    seed: int = 0,
) -> Image.Image:
    """What a flatbed scanner does to a page: a tilt, dust specks (share of pixels), a flip."""
    import numpy as np
    from PIL import Image

    img = page
    if tilt_degrees:
        img = img.rotate(
            tilt_degrees, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255
        )
    if speckle:
        rng = np.random.default_rng(seed)
        arr = np.asarray(img).copy()
        mask = rng.random(arr.shape) < speckle
        arr[mask] = rng.integers(0, 90, int(mask.sum()), dtype=np.uint8)
        img = Image.fromarray(arr)
    if upside_down:
        img = img.rotate(180)
    return img


def photograph(page: Image.Image, *, seed: int = 0, width_px: int = 1600) -> Image.Image:
    """A phone photo of a paper memo: smaller, tilted 2 degrees, lit from one side, slightly soft."""
    import numpy as np
    from PIL import Image, ImageFilter

    rng = random.Random(seed)
    img = page.convert("L")
    img = img.resize((width_px, round(img.height * width_px / img.width)), Image.Resampling.LANCZOS)
    img = img.rotate(rng.uniform(1.5, 2.5), resample=Image.Resampling.BICUBIC, fillcolor=235)
    arr = np.asarray(img, dtype=np.float32)
    # Light falls off across the sheet (brighter on the left), and paper is never pure white.
    shade = np.linspace(1.0, 0.78, arr.shape[1], dtype=np.float32)[None, :]
    arr = arr * 0.92 * shade + 8
    noise = np.random.default_rng(seed).normal(0, 4, arr.shape).astype(np.float32)
    arr = np.clip(arr + noise, 0, 255).astype(np.uint8)
    gray = Image.fromarray(arr).filter(ImageFilter.GaussianBlur(0.6))
    # A phone saves colour; a slight warm cast.
    return Image.merge("RGB", (gray, gray, gray.point(lambda v: max(0, v - 10))))


def _prepare(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def make_scanned_pdf(path: Path, pages: Sequence[Image.Image], *, dpi: int = 300) -> Path:
    """An image-only PDF, one scanned page per image (what a multifunction printer writes)."""
    first, *rest = [p.convert("L") for p in pages]
    first.save(_prepare(path), "PDF", resolution=float(dpi), save_all=True, append_images=rest)
    return path


def make_image(path: Path, image: Image.Image, *, quality: int = 80, dpi: int = 300) -> Path:
    """The image in the format its suffix names (.png, .jpg/.jpeg, .tif/.tiff)."""
    suffix = path.suffix.lower()
    kwargs: dict[str, object] = {"dpi": (dpi, dpi)}
    if suffix in (".jpg", ".jpeg"):
        kwargs["quality"] = quality
        image = image.convert("RGB")
    elif suffix in (".tif", ".tiff"):
        kwargs["compression"] = "tiff_lzw"
    image.save(_prepare(path), **kwargs)
    return path


# Pages with facts (dates, amounts with separators, quantities) no other test document has.
RINGI_LINES = [
    "稟議書（設備購入）",
    "申請日：2025年4月18日　申請者：製造部 第二課",
    "件名：第3ライン用の検査装置の購入について",
    "1. 目的",
    "不良品の流出を防ぐため、外観検査装置を導入する。",
    "2. 費用",
    "装置本体 3,860,000円、据付工事 420,000円、合計 4,280,000円（税抜）。",
    "3. 効果",
    "検査時間を1日あたり180分短縮し、不良率を0.8%から0.3%へ下げる。",
    "4. 数量と納期",
    "検査装置 2台、予備カメラ 6個。納期は2025年6月30日。",
    "5. リスク",
    "導入初月は作業者12名の教育が必要となる。",
]
RINGI_FACTS = [
    "2025年4月18日",
    "3,860,000円",
    "420,000円",
    "4,280,000円",
    "180分",
    "0.8%",
    "0.3%",
    "2台",
    "6個",
    "2025年6月30日",
    "12名",
]
DAILY_LINES = [
    "製造日報　2025年5月12日（月）　第2ライン　日勤",
    "記入者：山田班長　確認：品質保証課",
    "1. 生産実績",
    "品番 A-1024 計画 1,200個 実績 1,185個 達成率 98.8%",
    "品番 B-2048 計画 850個 実績 862個 達成率 101.4%",
    "2. 不良",
    "外観不良 14個（キズ 9個、汚れ 5個）、寸法不良 3個。",
    "3. 停止",
    "10時25分から10時52分まで、成形機3号機の金型温度異常で27分停止。",
    "4. 引継ぎ",
    "在庫：樹脂ペレット 2,350kg、残り3.5日分。",
    "臨時保全費 186,500円、外注検査費 72,000円。",
]
DAILY_FACTS = [
    "2025年5月12日",
    "1,200個",
    "1,185個",
    "98.8%",
    "850個",
    "862個",
    "101.4%",
    "14個",
    "10時25分",
    "10時52分",
    "27分",
    "2,350kg",
    "3.5日",
    "186,500円",
    "72,000円",
]
MEMO_LINES = [
    "ホワイトボード　打合せメモ",
    "日時：2025年9月16日 15時",
    "展示会ブース：小間数 4小間",
    "予算上限 1,650,000円",
    "配布カタログ 800部",
    "次回：9月24日までに見積",
]
MEMO_FACTS = ["2025年9月16日", "4小間", "1,650,000円", "800部", "9月24日"]
VERTICAL_COLUMNS = [
    "回覧　令和七年十月一日　総務部",
    "防災訓練は十月二十日午後二時から行う。",
    "参加者は各課三名、備蓄水は二百四十本を点検する。",
]
