"""`teichaku mask`: exactly what the model would see of a document, and where it would go.

`teichaku mask FILE` reads the file as the inbox would, guards it as a batch would, and prints the
text that would be sent, how many values of each kind were held back (never the values) and the
routing decision. `teichaku mask --jsonl` is the batch form for tools and tests: JSON lines
{"id", "text"} on stdin, one JSON line per input on stdout, in order, the models loaded once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich.markup import escape
from rich.table import Table

from core.errors import Refusal
from teichaku.app import WorkspaceOpt, app, console, fail, settings_for, specs_for

if TYPE_CHECKING:
    from core.settings import Settings
    from core.specs import PromptSpec
    from tasks.guard import Decision, GuardResult

# The --jsonl contract's category names (the guard's own ids, with bank_account as "account").
CONTRACT_CATEGORY = {"bank_account": "account"}

DESTINATION_JA = {
    "external": "社外の AI に送ります",
    "local_only": "社内のエンジンだけで処理します（社外には送りません）",
    "blocked": "AI には渡しません（隔離フォルダに理由を書きます）",
}


@app.command()
def mask(
    file: Annotated[Path | None, typer.Argument(help="Document to preview.")] = None,
    workspace: WorkspaceOpt = Path("."),
    spec_id: Annotated[
        str | None,
        typer.Option("--spec", help="Spec whose routing applies (default: the inbox FILE is in)."),
    ] = None,
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help='stdin {"id","text"} lines -> masked JSON lines.')
    ] = False,
) -> None:
    """Preview the guard (送信内容の確認): the text the model would get, what was held back, where it goes."""
    workspace = workspace.expanduser().resolve()
    settings = settings_for(workspace)
    if jsonl:
        if file is not None:
            fail("--jsonl は標準入力を読みます。FILE と一緒には指定できません。")
        mask_lines(sys.stdin, sys.stdout, settings)
        return
    if file is None:
        fail("確認するファイルを指定してください: teichaku mask FILE --workspace WS")
    _preview(file.expanduser().resolve(), settings, spec_id)


# -- --jsonl ----------------------------------------------------------------------------------
def mask_record(text: str, settings: Settings) -> dict[str, Any]:
    """{"masked", "spans"} for one text; offsets are code points into `text` itself."""
    # The guard: ~60 ms to import (GiNZA on first use), only when masking.
    from tasks.guard import detect, mask

    spans, _, _ = detect(text, settings)
    masked = mask(text, spans)
    return {
        "masked": masked.text,
        "spans": [
            {
                "start": s.start,
                "end": s.end,
                "category": CONTRACT_CATEGORY.get(s.category, s.category),
                "placeholder": placeholder,
            }
            for s, placeholder in zip(spans, masked.placeholders, strict=True)
        ],
    }


def _jsonl_answer(line: str, settings: Settings) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as e:
        return {"id": None, "error": f"invalid JSON: {e}"}
    if not isinstance(record, dict):
        return {"id": None, "error": 'each line must be a JSON object {"id", "text"}'}
    text = record.get("text")
    if not isinstance(text, str):
        return {"id": record.get("id"), "error": 'missing or non-string "text"'}
    return {"id": record.get("id"), **mask_record(text, settings)}


def mask_lines(src: TextIO, out: TextIO, settings: Settings) -> int:
    """One JSON line out per non-blank line in, in order, each written as soon as it is ready."""
    n = 0
    for line in src:
        if not line.strip():
            continue
        out.write(json.dumps(_jsonl_answer(line, settings), ensure_ascii=False) + "\n")
        out.flush()
        n += 1
    return n


# -- FILE -------------------------------------------------------------------------------------
def _spec_for(path: Path, settings: Settings, spec_id: str | None) -> PromptSpec | None:
    """The spec named, else the one whose folder holds `path`, else None (workspace defaults)."""
    from core.workspace import folders_for  # ~20 ms: only a FILE preview needs the folders

    specs = [loaded.spec for loaded in specs_for(settings.workspace)]
    if spec_id is not None:
        for spec in specs:
            if spec.id == spec_id:
                return spec
        fail(f"仕様 {escape(spec_id)} が見つかりません（teichaku specs list で確認できます）。")
    for spec in specs:
        if path.is_relative_to(folders_for(settings, spec).inbox.parent):
            return spec
    return None


def _preview(path: Path, settings: Settings, spec_id: str | None) -> None:
    # The parsers (~30 ms) and the guard (~60 ms): only when a file is read.
    from tasks.extract import extract_text
    from tasks.guard import decide, guard_text

    if not path.is_file():
        fail(f"ファイルがありません: {escape(str(path))}")
    spec = _spec_for(path, settings, spec_id)
    try:
        extracted = extract_text(path, settings.intake)
    except Refusal as e:
        fail(f"このファイルは読めません: {escape(e.reason_ja or str(e))}")
    guarded = guard_text(extracted.text, spec, settings, file_name=path.name)
    decision = decide(spec, settings, guarded.confidential_label)
    sys.stdout.write(f"--- AI に送られる本文（ファイル名: {guarded.file_name}）---\n")
    sys.stdout.write(guarded.text.rstrip("\n") + "\n---\n")
    _print_counts(guarded)
    _print_route(decision, settings, spec)
    for line in [*extracted.warnings, *guarded.warnings]:
        console.print(f"注意: {escape(line)}", soft_wrap=True)


def _print_counts(guarded: GuardResult) -> None:
    from tasks.guard import LABELS  # the guard: ~60 ms, loaded already by the preview

    console.print("伏せた項目（件数のみ。値は表示しません）")
    table = Table()
    table.add_column("種類")
    table.add_column("category")
    table.add_column("件数", justify="right")
    for category, label in LABELS.items():
        if guarded.counts.get(category):
            name = CONTRACT_CATEGORY.get(category, category)
            table.add_row(label, name, str(guarded.counts[category]))
    if not guarded.counts:
        table.add_row("（なし）", "-", "0")
    console.print(table)


def _print_route(decision: Decision, settings: Settings, spec: PromptSpec | None) -> None:
    where = DESTINATION_JA[decision.destination]
    if decision.destination != "blocked" and settings.engine == "offline":
        where = "オフライン抽出で処理します（AI を使う設定ではないため、どこにも送りません）"
    elif decision.destination == "external" and settings.llm.endpoint_is_local:
        where = "社内の AI に送ります（llm.endpoint_is_local: 接続先は社内）"
    elif decision.destination == "external":
        where += f"（接続先: {settings.openai_base_url or 'OpenAI 既定'}）"
    scope = (
        f"仕様 {spec.id}"
        if spec is not None
        else "受付フォルダの外のため、ワークスペース全体の設定"
    )
    console.print(f"送信先 ({decision.destination}): {escape(where)}", soft_wrap=True)
    console.print(f"判定の根拠: {escape(scope)}、ポリシー {decision.policy}", soft_wrap=True)
    if decision.reason_ja:
        console.print(f"理由: {escape(decision.reason_ja)}", soft_wrap=True)
