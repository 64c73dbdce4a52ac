"""`specs validate` (tasks.check_specs): one broken thing at a time, each named where it is,
on a spec written by `specs new` into a real workspace folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.examples import load_expectations
from core.scaffold import scaffold_spec
from core.specs import load_specs
from tasks.check_specs import validate_specs


def _scaffold(ws: Path) -> Path:
    return scaffold_spec(ws, "legal/contract_check", existing=load_specs()).spec_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _errors(ws: Path) -> list:
    return validate_specs(ws).errors


def test_scaffold_and_builtins_validate_clean(tmp_path: Path) -> None:
    _scaffold(tmp_path)
    report = validate_specs(tmp_path)
    assert report.problems == []
    assert len(report.checked) == len(load_specs()) + 1


def test_render_template_typo_names_template_and_file_line(tmp_path: Path) -> None:
    path = _scaffold(tmp_path)
    _edit(path, "{{ out.summary or", "{{ out.sumary or")
    [p] = _errors(tmp_path)
    assert p.path == path
    assert p.where.startswith("render_template line 3 (file line ")
    file_line = int(p.where.split("file line ")[1].rstrip(")"))
    assert "out.sumary" in path.read_text(encoding="utf-8").splitlines()[file_line - 1]
    assert "sumary" in p.message and "out.<項目名>" in p.hint


def test_template_syntax_error_names_line(tmp_path: Path) -> None:
    path = _scaffold(tmp_path)
    _edit(path, "  {% endfor %}\n\n  ## ToDo", "  {% endfo %}\n\n  ## ToDo")
    errors = _errors(tmp_path)
    assert errors and errors[0].where.startswith("render_template line ")


def test_user_template_unknown_variable(tmp_path: Path) -> None:
    path = _scaffold(tmp_path)
    _edit(path, "ファイル名：{{ file_name }}", "ファイル名：{{ filename }}")
    [p] = _errors(tmp_path)
    assert p.where.startswith("user_template line 2") and "filename" in p.message
    assert "document_text, file_name, spec, today" in p.hint


def test_output_field_not_shown_in_draft(tmp_path: Path) -> None:
    path = _scaffold(tmp_path)
    raw = path.read_text(encoding="utf-8")
    start = raw.index("  ## ポイント")
    end = raw.index("  ## ToDo")
    path.write_text(raw[:start] + raw[end:], encoding="utf-8")
    [p] = _errors(tmp_path)
    assert "points" in p.message and p.where.endswith("output.1.name")


def test_expectations_are_checked_against_their_schema_and_spec(tmp_path: Path) -> None:
    path = _scaffold(tmp_path)
    exp = path.with_suffix(".examples") / "expectations.yaml"
    _edit(exp, "required_sections: [summary, points, todo]", "required_sections: [summary, pointz]")
    [p] = _errors(tmp_path)
    assert p.path == exp and "pointz" in p.message and "cases.0.required_sections" in p.where
    _edit(exp, "    min_chars: 50", "    min_char: 50")
    [p] = _errors(tmp_path)
    assert p.path == exp and "min_char" in p.message and "unknown field" in p.message
    with pytest.raises(ConfigError, match=r"cases\.0\.min_char"):
        load_expectations(exp)


def test_two_specs_in_one_folder(tmp_path: Path) -> None:
    path = _scaffold(tmp_path)
    _edit(path, 'department_name: "legal"', 'department_name: "営業部"')
    _edit(path, 'document_name: "contract_check"', 'document_name: "商談議事録"')
    [p] = _errors(tmp_path)
    assert p.where == "folder" and "meeting_minutes.yaml" in p.message
