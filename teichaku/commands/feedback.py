"""`teichaku feedback`: record whether a draft was used (採用) or not (不採用), and why not;
`teichaku feedback list`: every judged draft, with how much of it was kept."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from core.errors import ConfigError
from core.settings import Settings
from teichaku.app import WorkspaceOpt, app, console, fail, settings_for, specs_for

if TYPE_CHECKING:
    from core.store import Document

feedback_app = typer.Typer(
    help="Same as moving the draft into 採用/ or 不採用/: confirms (or zeroes) its time saved. "
    "`teichaku feedback list` shows every judged draft.",
    invoke_without_command=True,
)
app.add_typer(feedback_app, name="feedback")


class VerdictChoice(StrEnum):
    adopted = "adopted"
    rejected = "rejected"


@feedback_app.callback()
def feedback(
    ctx: typer.Context,
    draft: Annotated[
        Path | None,
        typer.Option(
            "--draft", help="The draft (.draft.docx or .draft.md), in the outbox or moved."
        ),
    ] = None,
    verdict: Annotated[
        VerdictChoice | None,
        typer.Option("--verdict", help="adopted (採用) or rejected (不採用)."),
    ] = None,
    workspace: WorkspaceOpt = Path("."),
    minutes: Annotated[
        float | None,
        typer.Option(
            "--minutes",
            min=0,
            max=10000,
            help="Minutes actually spent finishing the document with the draft.",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            help="Why it was not used: one of folders.rejection_reasons "
            "(default 内容が不正確, 形式が合わない, 情報が足りない, 不要だった).",
        ),
    ] = None,
) -> None:
    """Same as moving the draft into 採用/ or 不採用/<reason>/: confirms (or zeroes) its time saved."""
    if ctx.invoked_subcommand is not None:
        return
    if draft is None or verdict is None:
        fail("--draft と --verdict を指定してください（一覧は teichaku feedback list）。")
    settings = settings_for(workspace.expanduser().resolve())
    if minutes is not None and verdict is VerdictChoice.rejected:
        fail("--minutes は採用（adopted）のときだけ指定できます。")
    if reason is not None and verdict is VerdictChoice.adopted:
        fail("--reason は不採用（rejected）のときだけ指定できます。")
    doc = _record(settings, draft, verdict, minutes, reason)
    label = "採用" if verdict is VerdictChoice.adopted else "不採用"
    extra = f"（実作業 {minutes:g} 分）" if minutes is not None else ""
    extra += f"（理由: {reason}）" if reason else ""
    console.print(f"記録しました: {doc.name} → {label}{extra}")


def _record(
    settings: Settings,
    draft: Path,
    verdict: VerdictChoice,
    minutes: float | None,
    reason: str | None,
) -> Document:
    """The verdict in the store; a configuration problem ends the command with its message."""
    # SQLAlchemy and the draft comparison: ~0.3 s (core.store ~0.2 s), only when recording.
    from core.store import Store
    from tasks.feedback import record_cli_feedback

    try:
        with Store.open(settings) as store:
            return record_cli_feedback(
                settings,
                specs_for(settings.workspace),
                store,
                draft,
                verdict.value,
                minutes,  # type: ignore[arg-type]
                reason,
            )
    except ConfigError as e:
        fail(str(e))


@feedback_app.command("list")
def feedback_list(
    workspace: WorkspaceOpt = Path("."),
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="JSON: draft, verdict, reason, retention, minutes, spec, version, judged_at.",
        ),
    ] = False,
) -> None:
    """Every judged draft: verdict, reason, how much of the draft was kept, minutes spent."""
    # SQLAlchemy and the draft comparison: ~0.3 s (core.store ~0.2 s), only when listing.
    from core.store import Store
    from tasks.feedback import judged_drafts

    settings = settings_for(workspace.expanduser().resolve())
    with Store.open(settings) as store:
        rows = judged_drafts(store, settings.digest.timezone)
    if as_json:
        typer.echo(
            json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False, indent=2)
        )
        return
    table = Table(title=f"判定済みの下書き {len(rows)} 件")
    for col in ("下書き", "判定", "理由", "残存率", "実作業(分)", "仕様", "版", "判定日時"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r.draft,
            "採用" if r.verdict == "adopted" else "不採用",
            r.reason or "",
            "" if r.retention is None else f"{r.retention:.0%}",
            "" if r.minutes is None else f"{r.minutes:g}",
            r.spec,
            str(r.version),
            r.judged_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)
