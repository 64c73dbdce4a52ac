"""tasks/extract/: the checks every format shares, and the registry that picks a reader."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from core.models import RefusalKind
from core.settings import IntakeSettings
from tasks.extract import (
    READ_IN_CHILD,
    READERS,
    SUPPORTED_SUFFIXES,
    clean_text,
    reader_for,
)
from tests.support.builders import (
    make_binary,
    make_docx,
    make_exe,
    make_pdf,
    make_text,
)
from tests.tasks.extract.helpers import refused


def test_supported_suffixes() -> None:
    office = {".docx", ".xlsx", ".xlsm", ".pptx", ".eml", ".msg"}
    scans = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".heic", ".heif"}
    assert frozenset({".pdf", ".txt", ".md", *office, *scans}) == SUPPORTED_SUFFIXES


def test_registry_gives_each_suffix_one_reader() -> None:
    claimed = [s for r in READERS for s in r.suffixes]
    assert len(claimed) == len(set(claimed)) and set(claimed) == SUPPORTED_SUFFIXES
    assert reader_for(".pdf") is not None and reader_for(".pdf").source_type == "pdf"
    assert reader_for(".md") is not None and reader_for(".md").source_type == "md"
    assert reader_for(".exe") is None
    # PDFs and images (OCR) bound themselves in a child process.
    images = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".heic", ".heif"}
    assert frozenset({".pdf", *images}) == READ_IN_CHILD


def test_cleaning_strips_control_characters_and_normalises() -> None:
    nfd = unicodedata.normalize("NFD", "ガイドライン")
    raw = f"  {nfd}\r\n行\x07二\x0b\x00\ufffe\n\n\n\n最後\t末尾  \n"
    assert clean_text(raw) == "ガイドライン\n行二\n\n最後\t末尾"


def test_unsupported_type(tmp_path: Path) -> None:
    assert refused(make_exe(tmp_path / "setup.exe")).kind is RefusalKind.UNSUPPORTED_TYPE
    # Legacy binary Excel is not read; .xlsx is (random bytes there are a corrupt workbook).
    assert refused(make_binary(tmp_path / "表.xls")).kind is RefusalKind.UNSUPPORTED_TYPE
    assert refused(make_binary(tmp_path / "表.xlsx")).kind is RefusalKind.CORRUPT
    assert refused(make_binary(tmp_path / "README")).kind is RefusalKind.UNSUPPORTED_TYPE


def test_empty_zero_bytes(tmp_path: Path) -> None:
    for suffix in sorted(SUPPORTED_SUFFIXES):
        path = tmp_path / f"空{suffix}"
        path.write_bytes(b"")
        assert refused(path).kind is RefusalKind.EMPTY


def test_empty_without_visible_text(tmp_path: Path) -> None:
    assert refused(make_text(tmp_path / "空白.txt", " \u3000\r\n\t\n")).kind is RefusalKind.EMPTY
    assert refused(make_docx(tmp_path / "空.docx", ["", "  "])).kind is RefusalKind.EMPTY
    assert refused(make_pdf(tmp_path / "白紙.pdf", ["", ""])).kind is RefusalKind.EMPTY


def test_too_large(tmp_path: Path) -> None:
    path = make_text(tmp_path / "大きい.txt", "あ" * 2000)
    refusal = refused(path, IntakeSettings(max_file_mb=0.001))
    assert refusal.kind is RefusalKind.TOO_LARGE


def test_unexpected_parser_error_becomes_corrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks.extract import docx

    path = make_docx(tmp_path / "a.docx", ["本文"])

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(docx, "_block_lines", explode)
    refusal = refused(path)
    assert refusal.kind is RefusalKind.CORRUPT
    assert "RuntimeError" in refusal.detail


def test_module_import_stays_light() -> None:
    code = (
        "import sys, tasks.extract; "
        "heavy = {'pypdf', 'docx', 'lxml.etree', 'reportlab'} & set(sys.modules); "
        "assert not heavy, heavy; "
        # The forkserver preloads `tasks.extract`: the PDF reader's child target comes with it.
        "assert 'tasks.extract.pdf' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[3])
