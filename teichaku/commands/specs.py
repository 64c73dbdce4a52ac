"""`teichaku specs ...`: list, new, validate, test. The work is elsewhere, each in its layer:
`core.scaffold` (new), `tasks.check_specs` (validate), `flows.spec_examples` (test)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from teichaku.app import WorkspaceOpt, console, err, fail, settings_for, specs_app, specs_for

ORIGIN_JA = {"builtin": "組み込み", "workspace": "ワークスペース"}


@specs_app.command("list")
def specs_list(
    workspace: WorkspaceOpt = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the prompt specs with their folders and origin (built-in or the workspace's own)."""
    from core.workspace import folders_for  # pydantic-settings: ~0.07 s, not for --help

    workspace = workspace.expanduser().resolve()
    settings = settings_for(workspace, must_exist=False)
    rows = []
    for s in specs_for(workspace):
        f = folders_for(settings, s.spec)
        rows.append(
            {
                "id": s.spec.id,
                "department": s.spec.department,
                "department_name": s.spec.department_name,
                "title": s.spec.title,
                "version": s.spec.version,
                "origin": s.origin,
                "path": str(s.path),
                "inbox": str(f.inbox),
                "outbox": str(f.outbox),
                "archive": str(f.archive),
                "quarantine": str(f.quarantine),
                "baseline_minutes": s.spec.baseline_minutes,
                "review_minutes": s.spec.review_minutes,
            }
        )
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    t = Table(title="プロンプト仕様 / prompt specs")
    for col in ("id", "部署", "タイトル", "版", "出どころ", "受付フォルダ"):
        t.add_column(col)
    for r in rows:
        inbox = Path(r["inbox"])
        shown = inbox.relative_to(workspace) if inbox.is_relative_to(workspace) else inbox
        t.add_row(
            r["id"],
            r["department_name"],
            r["title"],
            str(r["version"]),
            ORIGIN_JA[r["origin"]],
            str(shown),
        )
    console.print(t)


@specs_app.command("new")
def specs_new(
    spec_id: Annotated[
        str,
        typer.Argument(metavar="DEPT/DOC", help="e.g. legal/contract_check (ascii snake_case)."),
    ],
    workspace: WorkspaceOpt = Path("."),
    department_name: Annotated[
        str | None, typer.Option(help="Japanese department name, e.g. 法務部.")
    ] = None,
    document_name: Annotated[
        str | None, typer.Option(help="Japanese document type (also the folder name).")
    ] = None,
    title: Annotated[
        str | None, typer.Option(help="Japanese title shown in lists and the catalogue.")
    ] = None,
    form: Annotated[
        Path | None,
        typer.Option(
            "--form",
            help="A company Word form (.docx with docxtpl tags) to copy beside the spec as its "
            "word_template: drafts then come back as that form filled in.",
        ),
    ] = None,
) -> None:
    """Scaffold a spec (commented in Japanese) and its examples in the workspace's prompt_specs/."""
    from core.scaffold import scaffold_spec  # jinja2 + spec schema: ~0.2 s, only for `new`

    workspace = workspace.expanduser().resolve()
    made = scaffold_spec(
        workspace,
        spec_id,
        existing=specs_for(workspace),
        department_name=department_name,
        document_name=document_name,
        title=title,
        form=form.expanduser().resolve() if form else None,
    )
    if made.copied_from:
        console.print(
            f"[green]組み込みの仕様をコピーしました（このワークスペースではこちらが使われます）:[/] {made.spec_path}",
            soft_wrap=True,
        )
    else:
        console.print(f"[green]仕様の雛形を作りました:[/] {made.spec_path}", soft_wrap=True)
    console.print(f"  例フォルダ: {made.examples}", soft_wrap=True, highlight=False)
    if made.form:
        console.print(f"  社内様式: {made.form}", soft_wrap=True, highlight=False)
    console.print(
        "次の手順:\n"
        f"  1. {made.spec_path.name} を部署の業務に合わせて書き換える\n"
        f"  2. teichaku specs validate --workspace {workspace}\n"
        f"  3. teichaku specs test {spec_id} --workspace {workspace}\n"
        f"  4. teichaku init {workspace}  （受付フォルダを作る）",
        soft_wrap=True,
        highlight=False,
    )


@specs_app.command("validate")
def specs_validate(workspace: WorkspaceOpt = Path(".")) -> None:
    """Check every spec: schema, template variables, render template and output schema, examples."""
    from tasks.check_specs import validate_specs  # jinja2 + spec schema: ~0.2 s

    workspace = workspace.expanduser().resolve()
    report = validate_specs(workspace)
    for p in report.problems:
        label = "[bold red]エラー[/]" if p.level == "error" else "[yellow]注意[/]"
        console.print(
            f"{label} {escape(str(p.path))}: {escape(p.where)}: {escape(p.message)}",
            soft_wrap=True,
            highlight=False,
        )
        console.print(f"  → {escape(p.hint)}", soft_wrap=True, highlight=False)
    n = len(report.checked)
    if report.errors:
        err.print(
            f"[bold red]{len(report.errors)} 件のエラー[/]（{n} ファイルを確認）。上の → の指示に従って直してください。"
        )
        raise typer.Exit(1)
    console.print(
        f"[green]問題なし:[/] {n} ファイルを確認しました（注意 {len(report.warnings)} 件）。"
    )


class EngineChoice(StrEnum):
    offline = "offline"
    openai = "openai"


@specs_app.command("test")
def specs_test(
    spec_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="Only this spec (default: all).")
    ] = None,
    engine: Annotated[
        EngineChoice | None,
        typer.Option("--engine", help="offline or openai (default: the workspace's engine)."),
    ] = None,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Run every spec's examples through the engine; a pass/fail table, exit 1 on any failure."""
    # flows.document (store, worker pool, readers, guard) costs ~0.8 s; list/new/validate skip it.
    from flows.spec_examples import run_examples
    from tasks.generate.factory import build_engine

    workspace = workspace.expanduser().resolve()
    settings = settings_for(workspace, must_exist=False)
    specs = specs_for(workspace)
    if spec_id is not None:
        specs = [s for s in specs if s.spec.id == spec_id]
        if not specs:
            fail(f"仕様 {spec_id} が見つかりません。teichaku specs list で ID を確認してください。")
    eng = build_engine(settings, engine.value if engine else settings.engine)
    results, without = run_examples(specs, eng, settings)

    t = Table(title=f"仕様の例のテスト / spec examples ({eng.name})")
    for col in ("仕様", "例", "エンジン", "結果", "詳細"):
        t.add_column(col, overflow="fold")
    for r in results:
        status = "[green]合格[/]" if r.passed else "[bold red]不合格[/]"
        details = "\n".join(escape(f) for f in r.failures)
        if r.needs_review:
            details = (details + "\n" if details else "") + escape(f"要確認: {r.needs_review}")
        t.add_row(r.spec_id, escape(r.example), f"{r.engine} / {r.model}", status, details)
    for sid in without:
        t.add_row(sid, "—", "—", "[yellow]例なし[/]", "例フォルダ（<文書>.examples/）がありません")
    console.print(t)
    failed = [r for r in results if not r.passed]
    if spec_id is not None and not results:
        fail(f"{spec_id} には例がありません。", code=1)
    if failed:
        err.print(f"[bold red]{len(failed)} / {len(results)} 件が不合格です。[/]")
        raise typer.Exit(1)
    console.print(f"[green]{len(results)} 件すべて合格[/]（例のない仕様 {len(without)} 件）。")
