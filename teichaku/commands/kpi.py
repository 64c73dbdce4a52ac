"""`teichaku kpi`: KPI tables from the store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from teichaku.cli import WorkspaceOpt, _settings, app, console


@app.command()
def kpi(
    workspace: WorkspaceOpt = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Totals by department and spec: documents, drafts, estimated minutes saved, model usage."""
    from kpi.metrics import totals
    from kpi.store import Store

    workspace = workspace.expanduser().resolve()
    settings = _settings(workspace)
    store = Store(settings.database_url or "")
    try:
        df = totals(store)
    finally:
        store.dispose()
    if as_json:
        sys.stdout.write(df.to_json(orient="records", force_ascii=False, indent=2) + "\n")
        return
    from rich.table import Table

    t = Table(title="部署別の実績 / totals by department and spec")
    for col in df.columns:
        t.add_column(str(col), justify="right" if df[col].dtype.kind in "if" else "left")
    for row in df.itertuples(index=False):
        t.add_row(*(f"{v:.0f}" if isinstance(v, float) else str(v) for v in row))
    console.print(t)
