"""Tools for the DX office's own prompt specs: scaffold, validate, and test against examples.

A spec's examples live beside it in `<document>.examples/`: input documents plus one
`expectations.yaml` (validated by `Expectations`, extra="forbid", like the spec itself). The
folder name does not end in `.yaml`, so `load_specs` never mistakes an example for a spec.

Everything here is plain functions returning typed results; `teichaku specs ...` only prints
them, and the catalogue reuses `run_case` for its before/after example.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any, Literal

import yaml
from jinja2 import TemplateError, TemplateSyntaxError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ConfigError, EngineUnavailable, Refusal
from core.models import DraftMeta
from core.specs import (
    _IDENT,
    BUILTIN_SPEC_DIR,
    LoadedSpec,
    PromptSpec,
    load_spec_file,
)
from core.templating import render as render_jinja

if TYPE_CHECKING:
    from core.settings import Settings

EXAMPLES_SUFFIX = ".examples"
EXPECTATIONS_FILE = "expectations.yaml"


# -- expectations schema ------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExampleCase(_Strict):
    """One input document and what a good draft of it must (not) contain."""

    input: str = Field(description="File name of the input document in the examples folder.")
    description: str = Field("", description="What this example checks, in Japanese.")
    required_sections: list[str] = Field(
        default_factory=list, description="Output field names that must not be empty."
    )
    must_contain: list[str] = Field(
        default_factory=list, description="Text the draft body must contain."
    )
    must_not_contain: list[str] = Field(
        default_factory=list, description="Text the draft body must not contain."
    )
    min_chars: int | None = Field(None, ge=0, description="Lower bound on the draft body length.")
    max_chars: int | None = Field(None, ge=1, description="Upper bound on the draft body length.")


class Expectations(_Strict):
    cases: list[ExampleCase] = Field(min_length=1)


def examples_dir(loaded: LoadedSpec) -> Path:
    return loaded.path.with_suffix(EXAMPLES_SUFFIX)


def load_expectations(path: Path) -> Expectations:
    """Parse one expectations.yaml. Raises ConfigError naming the file and field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e}") from e
    try:
        return Expectations.model_validate(raw)
    except ValidationError as e:
        lines = [f"{path}: invalid expectations"]
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = (
                "unknown field (not in the schema; check spelling)"
                if err["type"] == "extra_forbidden"
                else err["msg"]
            )
            lines.append(f"  field {loc}: {msg}")
        raise ConfigError("\n".join(lines)) from e


# -- validation ---------------------------------------------------------------------------------


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


def draft_meta(
    spec: PromptSpec, *, source: str = "example.txt", engine: str = "offline", model: str = ""
) -> DraftMeta:
    return DraftMeta(
        source_name=source,
        spec_id=spec.id,
        spec_version=spec.version,
        spec_title=spec.title,
        department_name=spec.department_name,
        engine=engine,
        model=model,
        created_at=datetime.now().replace(microsecond=0),
        offline=engine == "offline",
    )


def _check_templates(path: Path, spec: PromptSpec) -> list[Problem]:
    problems: list[Problem] = []
    try:
        text = render_jinja(
            spec.user_template,
            document_text="<<<DOCUMENT\n（文書本文）\nDOCUMENT>>>",
            file_name="example.txt",
            spec=spec,
            today="2026-01-01",
        )
        if "<<<DOCUMENT" not in text:
            problems.append(
                Problem(
                    path,
                    "user_template",
                    "does not use {{ document_text }}",
                    "文書本文を入れる位置に {{ document_text }} を書いてください（ないと末尾に自動で付け足します）。",
                    "warning",
                )
            )
    except (TemplateError, TypeError, AttributeError) as e:
        problems.append(
            Problem(
                path,
                _where(path, "user_template", e),
                f"{type(e).__name__}: {e}",
                "使える変数は document_text, file_name, spec, today です。綴りと {% %} の対応を確認してください。",
            )
        )

    meta = draft_meta(spec).model_dump()
    filled = sample_output(spec)
    try:
        spec.output_model.model_validate(filled)
        json.dumps(spec.output_json_schema(), ensure_ascii=False)
    except (ValidationError, TypeError, ValueError) as e:
        problems.append(
            Problem(
                path,
                "output",
                f"output schema does not build: {e}",
                "output の各項目（name・kind・columns）を見直してください。",
            )
        )
        return problems
    for label, out in (
        ("empty output", spec.output_model().model_dump()),
        ("filled output", filled),
    ):
        try:
            body = render_jinja(spec.render_template, out=out, meta=meta, spec=spec)
        except (TemplateError, TypeError, AttributeError) as e:
            problems.append(
                Problem(
                    path,
                    _where(path, "render_template", e),
                    f"fails with {label}: {type(e).__name__}: {e}",
                    "render_template で使える変数は out.<項目名>, meta, spec です。out の項目名が output の name と一致しているか、"
                    '空の項目でも表示できるか（{% for %}…{% else %} や or "（記載なし）"）を確認してください。',
                )
            )
            return problems
        if label != "filled output":
            continue
        for i, f in enumerate(spec.output):
            shown = (f"§{i}." if f.kind == "table" else f"§{i}§") in body
            if not shown:
                problems.append(
                    Problem(
                        path,
                        f"render_template / output.{i}.name",
                        f"field {f.name!r} is never shown in the draft",
                        f"render_template に「{f.title}」の見出しと {{{{ out.{f.name} }}}} を追加するか、output から削除してください。",
                    )
                )
            elif f.kind == "table":
                for j, c in enumerate(f.columns or []):
                    if f"§{i}.{j}§" not in body:
                        problems.append(
                            Problem(
                                path,
                                f"render_template / output.{i}.columns.{j}",
                                f"column {f.name}.{c.name} is never shown",
                                f"表の行に {{{{ row.{c.name} }}}} を追加するか、columns から削除してください。",
                                "warning",
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


def _check_examples(path: Path, spec: PromptSpec) -> list[Problem]:
    folder = path.with_suffix(EXAMPLES_SUFFIX)
    if not folder.is_dir():
        return [
            Problem(
                path,
                f"{folder.name}/",
                "no examples",
                f"{folder} に入力例と {EXPECTATIONS_FILE} を置くと、specs test で確認できます（specs new が雛形を作ります）。",
                "warning",
            )
        ]
    exp_path = folder / EXPECTATIONS_FILE
    if not exp_path.is_file():
        return [
            Problem(
                exp_path,
                "(file)",
                "missing",
                f"{EXPECTATIONS_FILE} を作成してください（specs new の雛形を参照）。",
            )
        ]
    try:
        exp = load_expectations(exp_path)
    except ConfigError as e:
        return [
            Problem(
                exp_path,
                "(schema)",
                str(e).split("\n", 1)[-1].strip(),
                "項目名の綴りと値の形式を確認してください。",
            )
        ]
    problems: list[Problem] = []
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
        for name in case.required_sections:
            if name not in fields:
                problems.append(
                    Problem(
                        exp_path,
                        f"field cases.{i}.required_sections",
                        f"{name!r} is not an output field of {spec.id}",
                        f"使える項目名: {', '.join(sorted(fields))}",
                    )
                )
        if (
            case.min_chars is not None
            and case.max_chars is not None
            and case.min_chars > case.max_chars
        ):
            problems.append(
                Problem(
                    exp_path,
                    f"field cases.{i}.min_chars",
                    "min_chars > max_chars",
                    "min_chars は max_chars 以下にしてください。",
                )
            )
    return problems


def _spec_files(workspace: Path | None) -> list[tuple[Path, Path, Literal["builtin", "workspace"]]]:
    roots: list[tuple[Path, Literal["builtin", "workspace"]]] = [(BUILTIN_SPEC_DIR, "builtin")]
    if workspace is not None:
        roots.append((workspace / "prompt_specs", "workspace"))
    found = []
    for root, origin in roots:
        if root.is_dir():
            found += [(p, root, origin) for p in sorted(root.glob("*/*.yaml"))]
    return found


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
            head, _, rest = str(e).partition("\n")
            details = [ln.strip() for ln in rest.splitlines() if ln.strip()] or [
                head.split(": ", 1)[-1]
            ]
            for d in details:
                where, _, msg = d.partition(": ") if d.startswith("field ") else ("(file)", "", d)
                report.problems.append(
                    Problem(
                        path,
                        where,
                        msg or d,
                        "プロンプト仕様のスキーマにない項目は使えません。綴りを確認するか、その行を削除してください。"
                        if "unknown field" in d
                        else "値を直してください（項目の説明は teichaku/specs.py、見本は組み込みの prompt_specs/ にあります）。",
                    )
                )
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
        report.problems += _check_examples(path, spec)
    return report


# -- running examples ---------------------------------------------------------------------------


@dataclass
class CaseResult:
    spec_id: str
    origin: str
    example: str  # input file name
    engine: str
    model: str
    failures: list[str] = field(default_factory=list)  # Japanese
    needs_review: str | None = None
    seconds: float = 0.0
    output: dict[str, Any] = field(default_factory=dict)
    body: str = ""  # rendered render_template (the draft's sections)
    input_text: str = ""

    @property
    def passed(self) -> bool:
        return not self.failures


def make_engine(settings: Settings, name: str) -> Any:
    """The engine `specs test --engine` asks for, whatever the workspace's default is."""
    if name == "offline":
        from tasks.offline_engine import OfflineEngine

        return OfflineEngine(settings)
    if name == "openai":
        from tasks.generate import OpenAIEngine

        return OpenAIEngine(settings)
    raise ConfigError(f"unknown engine {name!r}: use offline or openai")


def check_case(spec: PromptSpec, case: ExampleCase, output: dict[str, Any], body: str) -> list[str]:
    """The expectations of one example against an engine's output and the rendered body."""
    failures: list[str] = []
    try:
        spec.output_model.model_validate(output)
    except ValidationError as e:
        failures.append(
            f"出力が出力スキーマに合いません: {e.error_count()} 件のエラー（{e.errors()[0]['loc']}）"
        )
    titles = {f.name: f.title for f in spec.output}
    for name in case.required_sections:
        if not output.get(name):
            failures.append(f"必須の項目「{titles.get(name, name)}」（{name}）が空です")
    failures += [f"「{t}」が下書きにありません" for t in case.must_contain if t not in body]
    failures += [f"「{t}」が下書きに含まれています" for t in case.must_not_contain if t in body]
    if case.min_chars is not None and len(body) < case.min_chars:
        failures.append(f"下書きが短すぎます（{len(body)} 文字 < {case.min_chars}）")
    if case.max_chars is not None and len(body) > case.max_chars:
        failures.append(f"下書きが長すぎます（{len(body)} 文字 > {case.max_chars}）")
    return failures


def run_case(loaded: LoadedSpec, case: ExampleCase, engine: Any, settings: Settings) -> CaseResult:
    """One example through extract -> (guard) -> generate -> render, like a dropped file."""
    from tasks.extract import extract_text

    spec = loaded.spec
    path = examples_dir(loaded) / case.input
    result = CaseResult(
        spec.id,
        loaded.origin,
        case.input,
        getattr(engine, "name", "?"),
        getattr(engine, "model", "?"),
    )
    t0 = time.monotonic()
    try:
        text = extract_text(path, settings.intake).text
    except (Refusal, OSError) as e:
        result.failures.append(f"入力ファイルを読めません: {getattr(e, 'reason_ja', None) or e}")
        return result
    result.input_text = text
    mapping: dict[str, str] = {}
    file_name = case.input
    if result.engine != "offline":
        # Examples go through the same guard as real documents before they leave the machine.
        from tasks.guard import guard_text, route_engine

        guarded = guard_text(text, spec, settings, file_name=case.input)
        try:
            engine = route_engine(engine, spec, settings, guarded)
        except Refusal as e:  # a confidentiality label under a block policy
            result.failures.append(f"この例は AI に渡せません: {e.reason_ja}")
            return result
        text, mapping, file_name = guarded.text, guarded.mapping, guarded.file_name or case.input
    try:
        gen = engine.generate(spec, text, file_name=file_name)
    except EngineUnavailable as e:
        # One row says the endpoint is down; the other examples still run and report.
        result.failures.append(f"AI の接続先が応答しません: {e}")
        return result
    if mapping:
        from tasks.guard import restore

        gen.output = restore(gen.output, mapping)
    result.engine, result.model = gen.engine, gen.model
    result.output = gen.output
    result.needs_review = gen.needs_review_reason
    meta = draft_meta(spec, source=case.input, engine=gen.engine, model=gen.model)
    try:
        result.body = render_jinja(
            spec.render_template, out=gen.output, meta=meta.model_dump(), spec=spec
        )
    except TemplateError as e:
        result.failures.append(
            f"render_template が失敗しました: {e}（specs validate で確認してください）"
        )
        return result
    result.failures += check_case(spec, case, gen.output, result.body)
    result.seconds = time.monotonic() - t0
    return result


def spec_examples(loaded: LoadedSpec) -> Expectations | None:
    path = examples_dir(loaded) / EXPECTATIONS_FILE
    return load_expectations(path) if path.is_file() else None


def run_examples(
    specs: list[LoadedSpec], engine: Any, settings: Settings
) -> tuple[list[CaseResult], list[str]]:
    """Every example of every given spec; also the ids of specs that have no examples."""
    results: list[CaseResult] = []
    without: list[str] = []
    for loaded in specs:
        exp = spec_examples(loaded)
        if exp is None:
            without.append(loaded.spec.id)
            continue
        results += [run_case(loaded, case, engine, settings) for case in exp.cases]
    return results, without


# -- scaffolding --------------------------------------------------------------------------------

_SPEC_TEMPLATE = Template(
    """\
# $title
# このファイルは `teichaku specs new` が作った雛形です。部署の業務に合わせて書き換えてください。
# 書き換えたら `teichaku specs validate --workspace <ワークスペース>` で形式を確認し、
# `teichaku specs test $spec_id --workspace <ワークスペース>` で例（$examples_name/）を試してください。
# 出力欄（output）やプロンプトを変えたら version を 1 つ上げてください（下書きごとに記録されます）。

version: 1
department: $department          # 部署ID（半角英小文字）。フォルダ名 prompt_specs/$department/ と一致させる
department_name: $department_name_q   # 日本語の部署名。受付フォルダ名にも使われます
document_name: $document_name_q     # 入れる文書の種類。受付フォルダ名にも使われます
title: $title_q   # 一覧とカタログに出る名前
purpose: >-
  （この仕様で何が楽になるかを書いてください）メモから要点とToDoを整理した下書きを作成します。
inputs:
  extensions: [".docx", ".pdf", ".txt", ".md"]   # 受け付けるファイルの種類
  description: （どんな文書を入れればよいかを書いてください）1件につき1ファイルで入れてください。
# AIへの指示。文書にないことを作らない・情報がなければ「不明」、は残してください。
system_prompt: |
  あなたは$department_nameの文書作成を支援するアシスタントです。
  与えられた文書をもとに、「$title」の下書きを作成します。

  守ること：
  - 出力はすべて日本語で、簡潔なビジネス文書として書いてください。
  - 文書に書かれていない事実・数値・日付・人名・社名を作らないでください。
  - 情報がない項目は空欄にしてください。担当や期限が書かれていない場合は「不明」としてください。
# AIに渡す依頼文（jinja2）。使える変数: document_text（本文）, file_name, spec, today
user_template: |
  次の文書から「{{ spec.title }}」を作成してください。
  ファイル名：{{ file_name }}
  作成日：{{ today }}

  ----- 文書 ここから -----
  {{ document_text }}
  ----- 文書 ここまで -----
# 下書きの欄。name は半角英小文字、kind は text（文章）/ list（箇条書き）/ table（表）。
# keywords は、オフライン抽出エンジンが文書の中から欄の内容を探すための見出し・手がかり語です。
output:
  - name: summary
    title: 要約
    kind: text
    description: 文書の要点を3〜5文でまとめてください。
    max_chars: 600
    keywords: [要約, 概要, 要旨, まとめ]
  - name: points
    title: ポイント
    kind: list
    description: 重要な事項を1項目1文で列挙してください。
    max_chars: 200
    max_items: 10
    keywords: [ポイント, 要点, 重要事項, 決定事項]
  - name: todo
    title: ToDo
    kind: table
    description: 誰が・何を・いつまでに行うかを1行1件で列挙してください。
    max_chars: 200
    max_items: 15
    columns:
      - name: task
        title: タスク
        description: 実施する内容
      - name: owner
        title: 担当
        description: 担当者名（記載がなければ「不明」）
      - name: due
        title: 期限
        description: 期限（記載がなければ「不明」）
    keywords: [ToDo, TODO, 宿題, 対応事項, 担当, 期限]
# 下書き（Markdown）の形（jinja2）。使える変数: out.<欄のname>, meta, spec
# 空の欄でも表示できるように「or "（記載なし）"」や {% else %} を使ってください。
render_template: |
  ## 要約

  {{ out.summary or "（記載なし）" }}

  ## ポイント

  {% for item in out.points %}
  - {{ item }}
  {% else %}
  （記載なし）
  {% endfor %}

  ## ToDo

  {% if out.todo %}
  | タスク | 担当 | 期限 |
  |---|---|---|
  {% for row in out.todo %}
  | {{ (row.task or "不明") | replace("|", "｜") }} | {{ (row.owner or "不明") | replace("|", "｜") }} | {{ (row.due or "不明") | replace("|", "｜") }} |
  {% endfor %}
  {% else %}
  （記載なし）
  {% endif %}
# 手作業にかかる時間（分）と、下書きの確認にかかる時間（分）。削減時間の見込みに使います。
baseline_minutes: 30
review_minutes: 10
baseline_source: $baseline_source_q
# 利用上の注意。すべての下書きの末尾とカタログに表示されます。
rules:
  forbidden_inputs:
    - 個人情報（個人の住所・電話番号・メールアドレスなど）
    - 「極秘」「社外秘」の表示がある資料
  review_duty: AIの出力は下書きです。内容・数値・固有名詞を必ず担当者が確認してから使用してください。
  owner: $owner_q
"""
)

_EXPECTATIONS_TEMPLATE = """\
# `teichaku specs test` が確認する期待結果です。cases に1件ずつ、入力ファイルと確認内容を書きます。
# - input: この例フォルダに置いた入力ファイル名（.docx / .pdf / .txt / .md）
# - required_sections: 空であってはいけない欄（output の name）
# - must_contain / must_not_contain: 下書きに含まれるべき・含まれてはいけない文字列
# - min_chars / max_chars: 下書き本文の文字数の範囲
# 出力が出力スキーマ（output）に合っていることは、常に確認します。
cases:
  - input: 例1_メモ.txt
    description: 見出しつきの標準的なメモ
    required_sections: [summary, points, todo]
    must_contain: [新しい受付手順]
    must_not_contain: ["{{", "None"]
    min_chars: 50
    max_chars: 3000
"""

_EXAMPLE_INPUT = """\
新しい受付手順の打ち合わせメモ

【要約】
来月から新しい受付手順を試行することを確認した。試行は第1週から2週間とする。

【ポイント】
・受付の記録は共有フォルダの様式に統一する。
・問い合わせの多い項目はFAQにまとめる。

【ToDo】
・様式の案を作成する（担当：山田、期限：来週金曜）
・FAQの項目を洗い出す（担当：佐藤、期限：今月中）
"""


def parse_spec_id(spec_id: str) -> tuple[str, str]:
    """'sales/followup_mail' -> ('sales', 'followup_mail'), or ConfigError saying what to type."""
    parts = spec_id.strip().strip("/").split("/")
    if len(parts) != 2 or not all(_IDENT.match(p) for p in parts):
        raise ConfigError(
            f"仕様IDは「部署ID/文書ID」の形で、半角英小文字・数字・_ で指定してください（例: sales/followup_mail）: {spec_id!r}"
        )
    return parts[0], parts[1]


@dataclass
class Scaffold:
    spec_path: Path
    examples: Path
    copied_from: Path | None = None  # a built-in spec copied to be overridden


def scaffold_spec(
    workspace: Path,
    spec_id: str,
    *,
    existing: list[LoadedSpec],
    department_name: str | None = None,
    document_name: str | None = None,
    title: str | None = None,
) -> Scaffold:
    """Write a commented spec and its examples into `<workspace>/prompt_specs/`.

    An id that is built in is copied (spec and examples) so the workspace can override it.
    """
    dept, doc = parse_spec_id(spec_id)
    root = workspace / "prompt_specs"
    spec_path = root / dept / f"{doc}.yaml"
    examples = spec_path.with_suffix(EXAMPLES_SUFFIX)
    if spec_path.exists() or examples.exists():
        raise ConfigError(
            f"{spec_path} は既にあります。別のIDを指定するか、既存のファイルを編集してください。"
        )
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    builtin = next(
        (s for s in existing if s.spec.id == f"{dept}/{doc}" and s.origin == "builtin"), None
    )
    if builtin is not None:
        header = (
            f"# 組み込みの仕様 {builtin.spec.id} のコピーです。このワークスペースでは、こちらが組み込みの仕様の代わりに使われます。\n"
            "# 変更したら version を 1 つ上げてください（版ごとの採用率を比べられます）。\n"
        )
        spec_path.write_text(header + builtin.path.read_text(encoding="utf-8"), encoding="utf-8")
        src_examples = examples_dir(builtin)
        if src_examples.is_dir():
            shutil.copytree(src_examples, examples)
        else:
            examples.mkdir()
        return Scaffold(spec_path, examples, copied_from=builtin.path)

    known = {s.spec.department: s.spec.department_name for s in existing}
    dept_name = department_name or known.get(dept) or dept
    doc_name = document_name or doc
    title = title or f"{doc_name} → 要点・ToDoドラフト"

    def q(value: str) -> str:
        # JSON strings are valid YAML scalars, so any name the user types stays one value.
        return json.dumps(value, ensure_ascii=False)

    text = _SPEC_TEMPLATE.substitute(
        spec_id=f"{dept}/{doc}",
        department=dept,
        department_name=dept_name,
        title=title,
        examples_name=examples.name,
        department_name_q=q(dept_name),
        document_name_q=q(doc_name),
        title_q=q(title),
        baseline_source_q=q(f"（根拠を1行で。例：{dept_name}の作業見積り、導入後に実測で見直す）"),
        owner_q=q(f"{dept_name}（DX推進室と共同管理）"),
    )
    spec_path.write_text(text, encoding="utf-8")
    examples.mkdir()
    (examples / EXPECTATIONS_FILE).write_text(_EXPECTATIONS_TEMPLATE, encoding="utf-8")
    (examples / "例1_メモ.txt").write_text(_EXAMPLE_INPUT, encoding="utf-8")
    return Scaffold(spec_path, examples)
