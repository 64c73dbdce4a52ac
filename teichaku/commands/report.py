"""`teichaku report`: the monthly report (月次レポート) as HTML, or its funnel table as CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from teichaku.app import WorkspaceOpt, app, console, fail, settings_for, specs_for


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", help="File to write (HTML; CSV with --csv).")],
    workspace: WorkspaceOpt = Path("."),
    month: Annotated[
        str | None,
        typer.Option("--month", help="Month YYYY-MM, e.g. 2026-11 (default: the current month)."),
    ] = None,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="The funnel per department as CSV instead of HTML.")
    ] = False,
) -> None:
    """Monthly report: per department 受付 -> 下書き -> 判定 -> 採用, retention, why drafts were not
    used, quarantines by reason, specs that grew or went unused, 横展開 candidates, who to ask."""
    # pandas + SQLAlchemy + jinja2 (~0.27 s): only commands that report pay for them.
    from flows.monthly import month_report
    from kpi.monthly import current_month, month_csv, parse_month, render_month_html

    settings = settings_for(workspace.expanduser().resolve())
    month = month or current_month(settings.digest.timezone)
    try:
        parse_month(month)
    except ValueError as e:
        fail(str(e))
    result = month_report(settings, specs_for(settings.workspace), month)
    out = out.expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    if as_csv:
        out.write_text(month_csv(result), encoding="utf-8-sig")  # BOM: Excel reads it as UTF-8
    else:
        out.write_text(render_month_html(result), encoding="utf-8")
    h = result.headline
    console.print(
        f"{result.month_title}: 受付 {h.documents} 件 → 下書き {h.drafts} 件 → 判定 {h.judged} 件 → "
        f"採用 {h.adopted} 件。書き出しました: {out}"
    )
