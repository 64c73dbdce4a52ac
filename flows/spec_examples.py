"""`teichaku specs test`: every example of a spec through the one document path, then checked.

An example is an input document in the spec's `<document>.examples/` folder and a case in its
`expectations.yaml` (schema: `core.examples`). `run_case` takes the example through
`flows.document.produce` (read, guard, route, generate, restore), exactly as a dropped file
goes, renders the draft's sections and checks the expectations against them. Everything returns
typed results; `teichaku specs test` only prints them, and the catalogue (flows/catalog.py)
drafts its before/after example with `run_case`.

Checking the spec files is `tasks.check_specs`; writing a new spec is `core.scaffold`.

A composition: imports `tasks` and `core` (and `flows.document`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateError
from pydantic import ValidationError

from core.engine import Engine
from core.errors import EngineUnavailable, Refusal
from core.examples import ExampleCase, examples_dir, spec_examples
from core.models import DraftMeta, RefusalKind
from core.settings import Settings
from core.specs import LoadedSpec, PromptSpec
from core.templating import render as render_jinja
from flows.document import Produced, produce


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
    meta: DraftMeta | None = None  # the draft's provenance, as a dropped file's draft has it

    @property
    def passed(self) -> bool:
        return not self.failures


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


def _produce(
    loaded: LoadedSpec, case: ExampleCase, engine: Engine, settings: Settings, result: CaseResult
) -> Produced | None:
    """The example through the document path; None (and a failure row) when it stops there."""
    path = examples_dir(loaded) / case.input
    try:
        return produce(path, case.input, loaded.spec, settings, engine)
    except Refusal as e:
        if e.kind == RefusalKind.CONFIDENTIAL:  # a confidentiality label under a block policy
            result.failures.append(f"この例は AI に渡せません: {e.reason_ja}")
        else:
            result.failures.append(f"入力ファイルを読めません: {e.reason_ja or e}")
    except OSError as e:
        result.failures.append(f"入力ファイルを読めません: {e}")
    except EngineUnavailable as e:
        # One row says the endpoint is down; the other examples still run and report.
        result.failures.append(f"AI の接続先が応答しません: {e}")
    return None


def run_case(
    loaded: LoadedSpec, case: ExampleCase, engine: Engine, settings: Settings
) -> CaseResult:
    """One example through read -> guard -> route -> generate -> restore -> render, like a dropped
    file, and its expectations checked."""
    spec = loaded.spec
    result = CaseResult(spec.id, loaded.origin, case.input, engine.name, engine.model)
    t0 = time.monotonic()
    made = _produce(loaded, case, engine, settings, result)
    if made is None:
        return result
    result.input_text = made.extracted.text
    result.engine, result.model = made.result.engine, made.result.model
    result.output = made.output
    result.needs_review = made.result.needs_review_reason
    result.meta = made.meta(spec, case.input, settings.zone)
    try:
        result.body = render_jinja(
            spec.render_template, out=made.output, meta=result.meta.model_dump(), spec=spec
        )
    except TemplateError as e:
        result.failures.append(
            f"render_template が失敗しました: {e}（specs validate で確認してください）"
        )
        return result
    result.failures += check_case(spec, case, made.output, result.body)
    result.seconds = time.monotonic() - t0
    return result


def run_examples(
    specs: list[LoadedSpec], engine: Engine, settings: Settings
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
