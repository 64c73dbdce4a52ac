"""`teichaku specs validate`: every spec file checked fully, every problem collected.

Each problem names the file, the field (`output.1.max_char`) or the template line
(`render_template line 3 (file line 88)`), and says in Japanese what to do. Checks: the schema,
`user_template` and `render_template` rendered with StrictUndefined against an empty and a
filled output, every output field shown by the draft, table column names, two specs claiming
one folder, the examples (their schema, input files, section names), and a company form
(`word_template`: every tag an output field or meta.*, rendered against an empty and a filled
output with no tag left).

A step: imports `core`, and `tasks.render.form` to render a form the way a draft does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jinja2 import TemplateError, TemplateSyntaxError
from pydantic import ValidationError

from core.errors import ConfigError
from core.examples import (
    EXAMPLES_SUFFIX,
    EXPECTATIONS_FILE,
    Expectations,
    draft_meta,
    load_expectations,
)
from core.specs import _IDENT, BUILTIN_SPEC_DIR, OutputField, PromptSpec, load_spec_file
from core.templating import render as render_jinja

Origin = Literal["builtin", "workspace"]


@dataclass
class Problem:
    path: Path
    where: str  # "field output.2.name", "render_template line 5 (file line 120)", ...
    message: str  # what is wrong
    hint: str  # what to do, in Japanese
    level: Literal["error", "warning"] = "error"


@dataclass
class ValidationReport:
    checked: list[tuple[Path, str]] = field(default_factory=list)  # (file, origin)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]


# -- where in the file ---------------------------------------------------------------------------


def _template_line(exc: BaseException) -> int | None:
    """Line in the template where rendering failed (jinja2 rewrites frames to `<template>`)."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _file_line(path: Path, key: str, template_line: int | None) -> int | None:
    """The file line of a template line, for block scalars (`key: |`) starting on the next line."""
    if template_line is None:
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for i, text in enumerate(lines, start=1):
        if text.startswith(f"{key}:"):
            return i + template_line
    return None


def _where(path: Path, key: str, exc: BaseException) -> str:
    tl = _template_line(exc)
    if tl is None:
        return key
    fl = _file_line(path, key, tl)
    return f"{key} line {tl}" + (f" (file line {fl})" if fl else "")


# -- templates -----------------------------------------------------------------------------------


def sample_output(spec: PromptSpec) -> dict[str, Any]:
    """A filled output with a unique marker per field/column, to see what the template shows."""
    out: dict[str, Any] = {}
    for i, f in enumerate(spec.output):
        if f.kind == "text":
            out[f.name] = f"§{i}§"
        elif f.kind == "list":
            out[f.name] = [f"§{i}§"]
        else:
            out[f.name] = [{c.name: f"§{i}.{j}§" for j, c in enumerate(f.columns or [])}]
    return out


def _check_user_template(path: Path, spec: PromptSpec) -> list[Problem]:
    try:
        text = render_jinja(
            spec.user_template,
            document_text="<<<DOCUMENT\n（文書本文）\nDOCUMENT>>>",
            file_name="example.txt",
            spec=spec,
            today="2026-01-01",
        )
    except (TemplateError, TypeError, AttributeError) as e:
        return [
            Problem(
                path,
                _where(path, "user_template", e),
                f"{type(e).__name__}: {e}",
                "使える変数は document_text, file_name, spec, today です。綴りと {% %} の対応を確認してください。",
            )
        ]
    if "<<<DOCUMENT" in text:
        return []
    return [
        Problem(
            path,
            "user_template",
            "does not use {{ document_text }}",
            "文書本文を入れる位置に {{ document_text }} を書いてください（ないと末尾に自動で付け足します）。",
            "warning",
        )
    ]


def _check_output_schema(path: Path, spec: PromptSpec, filled: dict[str, Any]) -> list[Problem]:
    try:
        spec.output_model.model_validate(filled)
        json.dumps(spec.output_json_schema(), ensure_ascii=False)
    except (ValidationError, TypeError, ValueError) as e:
        return [
            Problem(
                path,
                "output",
                f"output schema does not build: {e}",
                "output の各項目（name・kind・columns）を見直してください。",
            )
        ]
    return []


def _render_problem(path: Path, label: str, e: BaseException) -> Problem:
    return Problem(
        path,
        _where(path, "render_template", e),
        f"fails with {label}: {type(e).__name__}: {e}",
        "render_template で使える変数は out.<項目名>, meta, spec です。out の項目名が output の name と一致しているか、"
        '空の項目でも表示できるか（{% for %}…{% else %} や or "（記載なし）"）を確認してください。',
    )


def _field_shown(path: Path, i: int, f: OutputField, body: str) -> list[Problem]:
    """Is output field i (and each of its columns) in the body rendered from `sample_output`?"""
    if (f"§{i}." if f.kind == "table" else f"§{i}§") not in body:
        return [
            Problem(
                path,
                f"render_template / output.{i}.name",
                f"field {f.name!r} is never shown in the draft",
                f"render_template に「{f.title}」の見出しと {{{{ out.{f.name} }}}} を追加するか、output から削除してください。",
            )
        ]
    if f.kind != "table":
        return []
    return [
        Problem(
            path,
            f"render_template / output.{i}.columns.{j}",
            f"column {f.name}.{c.name} is never shown",
            f"表の行に {{{{ row.{c.name} }}}} を追加するか、columns から削除してください。",
            "warning",
        )
        for j, c in enumerate(f.columns or [])
        if f"§{i}.{j}§" not in body
    ]


def _check_templates(path: Path, spec: PromptSpec) -> list[Problem]:
    problems = _check_user_template(path, spec)
    filled = sample_output(spec)
    schema = _check_output_schema(path, spec, filled)
    if schema:
        return problems + schema
    meta = draft_meta(spec).model_dump()
    # An empty output must render too (a document may have none of the sections).
    for label, out in (
        ("empty output", spec.output_model().model_dump()),
        ("filled output", filled),
    ):
        try:
            body = render_jinja(spec.render_template, out=out, meta=meta, spec=spec)
        except (TemplateError, TypeError, AttributeError) as e:
            return [*problems, _render_problem(path, label, e)]
    for i, f in enumerate(spec.output):
        problems += _field_shown(path, i, f, body)
    return problems


def _check_form(path: Path, spec: PromptSpec) -> list[Problem]:
    """The company form: it is there, and each of its tags names an output field or meta.*"""
    form = spec.form_path
    if form is None:
        return []
    if not form.is_file():
        return [
            Problem(
                path,
                "word_template",
                f"{spec.word_template} が見つかりません（{form}）",
                "様式ファイル（.docx）を仕様ファイルと同じフォルダに置くか、word_template のファイル名を直してください。",
            )
        ]
    # Here: python-docx and docxtpl cost ~0.18 s to import (python -X importtime), which
    # `specs validate` should not pay when no spec names a form.
    from tasks.render.form import check_form

    hint = "様式のタグを出力項目の名前（output の name）か meta.〜 に直してから、もう一度確認してください。"
    return [
        Problem(form, "word_template", msg, hint)
        for msg in check_form(form, spec, draft_meta(spec))
    ]


# -- fields and folders --------------------------------------------------------------------------


def _check_columns(path: Path, i: int, f: OutputField) -> list[Problem]:
    problems: list[Problem] = []
    names = [c.name for c in f.columns or []]
    for j, n in enumerate(names):
        if not _IDENT.match(n):
            problems.append(
                Problem(
                    path,
                    f"output.{i}.columns.{j}.name",
                    f"{n!r} is not ascii snake_case",
                    "列の name は半角英小文字・数字・_ で書いてください（例: due_date）。",
                )
            )
    if len(set(names)) != len(names):
        problems.append(
            Problem(
                path,
                f"output.{i}.columns",
                f"duplicate column names: {names}",
                "列の name が重複しないようにしてください。",
            )
        )
    return problems


def _check_fields(path: Path, spec: PromptSpec, taken: dict[str, Path]) -> list[Problem]:
    problems: list[Problem] = []
    for i, f in enumerate(spec.output):
        if not f.keywords:
            problems.append(
                Problem(
                    path,
                    f"output.{i}.keywords",
                    f"field {f.name!r} has no keywords",
                    "オフライン抽出エンジンは keywords（見出し・手がかり語）で項目を探します。文書に出てくる見出し語を書いてください。",
                    "warning",
                )
            )
        problems += _check_columns(path, i, f)
    other = taken.get(spec.folder_rel)
    if other is not None and other != path:
        problems.append(
            Problem(
                path,
                "folder",
                f"folder {spec.folder_rel!r} is also used by {other}",
                "2つの仕様が同じ受付フォルダを使っています。document_name か folder を変えてください。",
            )
        )
    return problems


# -- examples ------------------------------------------------------------------------------------


def _load_examples(path: Path) -> tuple[Path, Expectations | None, list[Problem]]:
    """The examples folder and its expectations, or the problem that stops checking them."""
    folder = path.with_suffix(EXAMPLES_SUFFIX)
    if not folder.is_dir():
        hint = f"{folder} に入力例と {EXPECTATIONS_FILE} を置くと、specs test で確認できます（specs new が雛形を作ります）。"
        return folder, None, [Problem(path, f"{folder.name}/", "no examples", hint, "warning")]
    exp_path = folder / EXPECTATIONS_FILE
    if not exp_path.is_file():
        hint = f"{EXPECTATIONS_FILE} を作成してください（specs new の雛形を参照）。"
        return folder, None, [Problem(exp_path, "(file)", "missing", hint)]
    try:
        return folder, load_expectations(exp_path), []
    except ConfigError as e:
        message = str(e).split("\n", 1)[-1].strip()
        hint = "項目名の綴りと値の形式を確認してください。"
        return folder, None, [Problem(exp_path, "(schema)", message, hint)]


def _check_examples(path: Path, spec: PromptSpec) -> list[Problem]:
    folder, exp, problems = _load_examples(path)
    if exp is None:
        return problems
    exp_path = folder / EXPECTATIONS_FILE
    fields = {f.name for f in spec.output}
    for i, case in enumerate(exp.cases):
        if not (folder / case.input).is_file():
            problems.append(
                Problem(
                    exp_path,
                    f"field cases.{i}.input",
                    f"{case.input!r} not found in {folder}",
                    "入力ファイルを例フォルダに置くか、ファイル名を直してください。",
                )
            )
        problems += [
            Problem(
                exp_path,
                f"field cases.{i}.required_sections",
                f"{name!r} is not an output field of {spec.id}",
                f"使える項目名: {', '.join(sorted(fields))}",
            )
            for name in case.required_sections
            if name not in fields
        ]
        low, high = case.min_chars, case.max_chars
        if low is not None and high is not None and low > high:
            problems.append(
                Problem(
                    exp_path,
                    f"field cases.{i}.min_chars",
                    "min_chars > max_chars",
                    "min_chars は max_chars 以下にしてください。",
                )
            )
    return problems


# -- all spec files ------------------------------------------------------------------------------


def _spec_files(workspace: Path | None) -> list[tuple[Path, Path, Origin]]:
    roots: list[tuple[Path, Origin]] = [(BUILTIN_SPEC_DIR, "builtin")]
    if workspace is not None:
        roots.append((workspace / "prompt_specs", "workspace"))
    found = []
    for root, origin in roots:
        if root.is_dir():
            found += [(p, root, origin) for p in sorted(root.glob("*/*.yaml"))]
    return found


def _schema_problems(path: Path, e: ConfigError) -> list[Problem]:
    """A spec the schema refused: one problem per field the error names."""
    head, _, rest = str(e).partition("\n")
    details = [ln.strip() for ln in rest.splitlines() if ln.strip()] or [head.split(": ", 1)[-1]]
    problems = []
    for d in details:
        where, _, msg = d.partition(": ") if d.startswith("field ") else ("(file)", "", d)
        hint = (
            "プロンプト仕様のスキーマにない項目は使えません。綴りを確認するか、その行を削除してください。"
            if "unknown field" in d
            else "値を直してください（項目の説明は core/specs.py、見本は組み込みの prompt_specs/ にあります）。"
        )
        problems.append(Problem(path, where, msg or d, hint))
    return problems


def validate_specs(workspace: Path | None) -> ValidationReport:
    """Every spec file (built-in and the workspace's), each checked fully; problems are collected."""
    report = ValidationReport()
    # A workspace spec replaces the built-in one of the same id, so only the effective files
    # compete for folders.
    effective: dict[str, Path] = {}
    parsed: list[tuple[Path, PromptSpec]] = []
    for path, root, origin in _spec_files(workspace):
        report.checked.append((path, origin))
        try:
            spec = load_spec_file(path, root)
        except ConfigError as e:
            report.problems += _schema_problems(path, e)
            continue
        effective[spec.id] = path
        parsed.append((path, spec))
    taken: dict[str, Path] = {}
    for path, spec in parsed:
        if effective.get(spec.id) == path:
            taken.setdefault(spec.folder_rel, path)
    for path, spec in parsed:
        if effective.get(spec.id) == path:
            report.problems += _check_fields(path, spec, taken)
        report.problems += _check_templates(path, spec)
        report.problems += _check_form(path, spec)
        report.problems += _check_examples(path, spec)
    return report
