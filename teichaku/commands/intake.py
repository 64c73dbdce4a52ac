"""Intake commands: `init` a workspace, `run` the inboxes once, `demo` on the embedded defaults."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.settings import apply_prefect_defaults
from teichaku.app import WorkspaceOpt, app, console, err, fail, settings_for, specs_for


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to set up as a workspace.")],
) -> None:
    """Create a workspace: teichaku.toml and, per spec, 受付/下書き/処理済み/隔離 folders."""
    from core.workspace import folders_for, init_workspace  # ~20 ms: only init and demo need it

    directory = directory.expanduser().resolve()
    settings = settings_for(directory, must_exist=False)
    specs = specs_for(directory)
    init_workspace(directory, specs, settings)
    console.print(f"[green]workspace ready:[/] {directory}")
    for s in specs:
        f = folders_for(settings, s.spec)
        console.print(
            f"  {s.spec.id:28} {s.spec.title}\n    → ここに入れる: {f.inbox.relative_to(directory)}"
        )
    _print_name_lists(settings)


def _print_name_lists(settings) -> None:
    """Where the client list and the employee directory go: the guard's strongest signal."""
    guard = settings.guard
    csv = f"{guard.employee_csv}" if guard.employee_csv else "未設定"
    console.print(
        "\n取引先名・社員名を確実に伏せるには（AI に送る前に、一覧にある名前は必ず伏せます）:\n"
        f"  取引先一覧: {guard.client_list} に 1 行 1 社で書く（例: 東邦化成工業株式会社）\n"
        f"  社員名簿: 氏名の列がある CSV を置き、teichaku.toml の [guard] employee_csv に指定（現在: {csv}）\n"
        "  確認: teichaku mask <ファイル> --workspace <このフォルダ> で AI に送られる本文を表示",
        markup=False,
        highlight=False,
    )


def _run_batch(settings, *, quiet: bool = False):  # -> BatchSummary
    """Run the intake batch once with a progress bar: through Prefect or directly (orchestration.mode)."""
    from flows.pool import start_server  # the worker pool: only `run` and `demo`

    start_server(settings)  # before the heavy imports below (a no-op once `run` started it)
    from flows import batch  # the document flow and its steps: ~0.44 s

    progress = Progress(
        TextColumn("[bold]処理中[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        disable=quiet,
    )
    bar = progress.add_task("", total=None)

    def on_found(n: int) -> None:
        progress.update(bar, total=n)

    def on_done(o) -> None:
        progress.update(bar, advance=1, description=f"{o.status}: {o.name}"[:60])

    batch.DISCOVERED.append(on_found)
    batch.PROGRESS.append(on_done)
    try:
        if settings.orchestration.resolved() == "direct":
            with progress:
                return batch.run_direct(settings)
        apply_prefect_defaults(settings)  # before Prefect is imported
        from flows import intake  # Prefect: ~1.8 s, and only after the defaults above

        with progress, _quiet_prefect_exit():
            return intake.run_intake(settings)
    finally:
        batch.DISCOVERED.remove(on_found)
        batch.PROGRESS.remove(on_done)


class _quiet_prefect_exit:
    """Prefect's in-process server logs tracebacks while it shuts down; a person should not see them."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        for name in ("prefect.server", "prefect._internal", "uvicorn", "prefect.events", "prefect"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def feedback_line(tally) -> str:  # tally: core.models.FeedbackTally
    """「採用 3 件・不採用 1 件（所要時間の報告 2 件・計 35 分）」, or なし."""
    if not tally.recorded:
        return "なし（採用/・不採用/ に移した下書きはありません）"
    text = f"採用 {tally.adopted} 件・不採用 {tally.rejected} 件"
    if tally.minutes_reports:
        text += f"（所要時間の報告 {tally.minutes_reports} 件・計 {tally.minutes_total:.0f} 分）"
    return text


def _print_summary(summary, settings) -> None:
    t = Table(title="取り込み結果 / intake summary")
    t.add_column("結果")
    t.add_column("件数", justify="right")
    for status, label in (
        ("drafted", "下書き作成 drafted"),
        ("quarantined", "隔離 quarantined"),
        ("pending", "保留 pending"),
        ("duplicate", "重複 duplicate"),
        ("skipped", "スキップ skipped"),
    ):
        t.add_row(label, str(summary.count(status)))
    t.add_row("推定削減時間 minutes saved (est.)", f"{summary.minutes_saved:.0f} 分")
    console.print(t)
    # A line of its own: in a table cell it wraps mid-phrase on an 80-column terminal.
    console.print(f"フィードバック記録 / feedback recorded: {feedback_line(summary.feedback)}")
    mode = settings.orchestration.resolved()
    where = (
        "Prefect (flow run in the Prefect UI)"
        if mode == "prefect"
        else "direct, without Prefect (set PREFECT_API_URL or --orchestration prefect to record a flow run)"
    )
    console.print(
        f"engine: {summary.engine} / {summary.model}  ·  {summary.seconds:.1f} s  ·  orchestration: {where}"
    )
    for o in summary.outcomes:
        if o.status in ("quarantined", "pending"):
            console.print(f"  [yellow]{o.status}[/] {o.spec_id} {o.name}: {o.reason}")
    if summary.stopped_reason:
        err.print(f"[bold red]stopped:[/] {summary.stopped_reason}")


@app.command()
def run(
    workspace: WorkspaceOpt = Path("."),
    orchestration: Annotated[
        str | None,
        typer.Option(
            "--orchestration",
            help="auto (default): through Prefect when PREFECT_API_URL is set, else directly on a thread "
            "pool without Prefect (no flow run, no UI; same steps and outcomes). prefect: always the "
            "Prefect flow (without PREFECT_API_URL a temporary in-process server, ~15 s extra). "
            "direct: never Prefect. Setting: TEICHAKU_ORCHESTRATION__MODE.",
        ),
    ] = None,
) -> None:
    """Process every document waiting in the inboxes once, then exit.

    Without PREFECT_API_URL the default (orchestration auto) runs without Prefect: a temporary
    Prefect server costs more than a whole batch of short documents. Set PREFECT_API_URL (or
    --orchestration prefect) to see runs in the Prefect UI."""
    workspace = workspace.expanduser().resolve()
    settings = settings_for(workspace)
    if orchestration is not None:
        if orchestration not in ("auto", "prefect", "direct"):
            fail(f"--orchestration must be auto, prefect or direct, not {orchestration!r}")
        settings.orchestration.mode = orchestration
    from flows.pool import start_server  # ~30 ms: names what to preload, imports none of it

    # Before anything else: the server loads the steps and GiNZA (~2 s of CPU) on the other
    # core while this process validates the specs and imports the batch, so the first model
    # call goes out ~0.7 s sooner. A run that stops on a broken spec just leaves it unused.
    start_server(settings)
    specs_for(workspace)  # fail early, with the file and field, on a broken spec
    summary = _run_batch(settings)
    _print_summary(summary, settings)
    if summary.stopped_reason:
        raise typer.Exit(3)


@app.command()
def demo(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Where to build the demo workspace (default: a new temp folder)."
        ),
    ] = None,
) -> None:
    """Build a throwaway workspace with sample documents for every spec and process them offline."""
    # The embedded examples and the folder layout: ~25 ms, only init and demo need them.
    from core.examples import copy_example_inputs
    from core.workspace import folders_for, init_workspace

    root = (directory or Path(tempfile.mkdtemp(prefix="teichaku-demo-"))).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    settings = settings_for(root, must_exist=False)
    specs = specs_for(root)
    init_workspace(root, specs, settings)
    # The demo runs on the embedded defaults: offline engine unless the operator chose otherwise.
    config = root / "teichaku.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace('# engine = "offline"', 'engine = "offline"', 1),
        encoding="utf-8",
    )
    settings = settings_for(root)
    # The samples are the specs' example inputs, in formats that exercise every reader (docx
    # with a table, PDF with CID fonts, Shift_JIS text, Markdown).
    for s in specs:
        copy_example_inputs(s, folders_for(settings, s.spec).inbox)
    console.print(f"[bold]デモ用ワークスペース / demo workspace:[/] {root}")
    summary = _run_batch(settings)
    _print_summary(summary, settings)
    console.print("\n[bold]下書き / drafts:[/]")
    for o in summary.outcomes:
        if o.draft:
            # Paths are printed whole (no wrapping) so they can be copied.
            console.print(f"  {o.spec_id}", soft_wrap=True)
            console.print(f"    {o.draft.docx}\n    {o.draft.md}", soft_wrap=True, highlight=False)
    drafted_specs = {o.spec_id for o in summary.outcomes if o.status == "drafted"}
    missing = sorted({s.spec.id for s in specs} - drafted_specs)
    if missing:
        fail(f"no draft for: {', '.join(missing)}", code=1)
