"""Excel .xlsx / .xlsm: every visible non-empty sheet in order, named; forms as 「ラベル：値」.

Bounded before openpyxl opens it: `archive.check_zip` refuses OLE files (a password-protected
workbook, or a legacy .xls renamed), broken archives and zip bombs from the central directory
alone. openpyxl then streams the sheets (`read_only=True`) and parses XML through defusedxml
(installed with us), so an entity bomb stops with an error instead of expanding; formulas are
read as their cached values (`data_only=True`), dates as dates. Merged cells hold their value
in the top-left cell only, so each is read once. A sheet is read as a form when most of its rows
are a label and a value (「件名：…」), otherwise as a table: its header row, then one line per
row with the cells joined by 「 | 」. Hidden sheets are skipped and the draft says so.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from core.errors import Refusal
from core.models import ExtractedDocument, RefusalKind
from core.settings import IntakeSettings
from tasks.extract.archive import check_office_zip

# A sheet whose rows are mostly one or two filled cells (label, value) is a form.
_FORM_SHARE = 0.6
# Most characters read from one workbook: a log export of 100,000 rows is not a document.
_MAX_CHARS = 400_000
_DECIMALS = re.compile(r"0\.(0+)")
# Literal text of a number format: "個" in #,##0"個", ¥ in ¥#,##0, \円 escapes.
_LITERAL = re.compile(r'"([^"]*)"|\\(.)|([¥$€円])')


def _check_workbook_archive(path: Path, limits: IntakeSettings) -> None:
    check_office_zip(
        path,
        limits,
        main_part="xl/workbook.xml",
        legacy_stream="Workbook",
        legacy_suffix=".xls",
        suffix_label="an Excel suffix",
    )


def format_date(value: dt.date | dt.datetime) -> str:
    """2025年5月12日, with the time when it has one (2025年5月12日 10:25)."""
    text = f"{value.year}年{value.month}月{value.day}日"
    if isinstance(value, dt.datetime) and (value.hour or value.minute):
        text += f" {value.hour}:{value.minute:02d}"
    return text


def _affixes(number_format: str) -> tuple[str, str]:
    """The literal prefix and suffix of a number format's first section."""
    section = number_format.split(";")[0]
    digits = re.search(r"[0#?]", section)
    if digits is None:
        return "", ""
    cut = digits.start()
    prefix = "".join("".join(m.groups("")) for m in _LITERAL.finditer(section[:cut]))
    suffix = "".join("".join(m.groups("")) for m in _LITERAL.finditer(section[cut:]))
    return prefix, suffix


def _format_number(value: float, number_format: str) -> str:
    prefix, suffix = _affixes(number_format)
    return prefix + _plain_number(value, number_format) + suffix


def _plain_number(value: float, number_format: str) -> str:
    decimals_match = _DECIMALS.search(number_format)
    decimals = len(decimals_match.group(1)) if decimals_match else None
    if "%" in number_format:
        return f"{value * 100:.{decimals or 0}f}%"
    if decimals is None and float(value).is_integer():
        value = int(value)
    if "," in number_format:
        return f"{value:,.{decimals}f}" if decimals is not None else f"{value:,}"
    if decimals is not None:
        return f"{value:.{decimals}f}"
    return str(value)


def cell_text(cell: Any) -> str:
    """A cell's cached value as a person reads it: dates as dates, amounts with separators."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return format_date(value)
    if isinstance(value, dt.time):
        return f"{value.hour}:{value.minute:02d}"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return _format_number(value, cell.number_format or "General")
    return " ".join(str(value).split())


def _rows(sheet: Any) -> list[list[str]]:
    rows: list[list[str]] = []
    for row in sheet.iter_rows():
        cells = [cell_text(c) for c in row]
        while cells and not cells[-1]:
            cells.pop()
        if any(cells):
            rows.append(cells)
    return rows


def _is_form(rows: list[list[str]]) -> bool:
    short = sum(1 for r in rows if 1 <= sum(1 for c in r if c) <= 2)
    return short >= _FORM_SHARE * len(rows)


def sheet_lines(rows: list[list[str]]) -> list[str]:
    """A form as 「ラベル：値」 lines, a table as its header line and one line per row."""
    if _is_form(rows):
        lines = []
        for r in rows:
            filled = [c for c in r if c]
            lines.append("：".join(filled) if len(filled) == 2 else " | ".join(filled))
        return lines
    width = max(len(r) for r in rows)
    return [" | ".join(r + [""] * (width - len(r))).rstrip(" |") for r in rows]


class _XlsxReader:
    source_type = "xlsx"
    suffixes = frozenset({".xlsx", ".xlsm"})
    in_child = False

    def read(self, path: Path, limits: IntakeSettings) -> ExtractedDocument:
        _check_workbook_archive(path, limits)
        # openpyxl ~215 ms (-X importtime), not preloaded by the forkserver (tasks.extract is): loaded only by a batch that reads a workbook.
        import openpyxl
        from defusedxml import DefusedXmlException

        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
            try:
                return self._read_book(book)
            finally:
                book.close()
        except (DefusedXmlException, ValueError) as e:
            # openpyxl wraps defusedxml's refusal in a ValueError ("invalid XML").
            if isinstance(e, DefusedXmlException) or isinstance(e.__cause__, DefusedXmlException):
                raise Refusal(RefusalKind.ZIP_BOMB, f"XML entity declarations: {e!r}") from e
            raise Refusal(RefusalKind.CORRUPT, f"{type(e).__name__}: {e}"[:2000]) from e

    def _read_book(self, book: Any) -> ExtractedDocument:
        parts: list[str] = []
        hidden: list[str] = []
        chars = 0
        for sheet in book.worksheets:
            if sheet.sheet_state != "visible":
                hidden.append(sheet.title)
                continue
            rows = _rows(sheet)
            if not rows:
                continue
            block = "\n".join([f"■ シート「{sheet.title}」", *sheet_lines(rows)])
            parts.append(block)
            chars += len(block)
            if chars > _MAX_CHARS:
                raise Refusal(RefusalKind.TOO_LARGE, f"workbook text over {_MAX_CHARS} characters")
        warnings = []
        if hidden:
            names = "、".join(f"「{h}」" for h in hidden)
            warnings.append(f"Excel の非表示シート {names} は読み取っていません。")
        return ExtractedDocument(
            text="\n\n".join(parts), source_type=self.source_type, warnings=warnings
        )


READER = _XlsxReader()
