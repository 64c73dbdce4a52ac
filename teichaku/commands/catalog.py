"""`teichaku catalog`: the prompt catalogue (プロンプト集) as a static HTML site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from teichaku.app import WorkspaceOpt, app, console, settings_for, specs_for


@app.command()
def catalog(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the HTML site into.")],
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Render every spec by department: where to drop, what comes back, an example, rules, KPIs."""
    # The document path behind the examples (store, readers, guard) costs ~1 s to import.
    from flows.catalog import build_catalog
    from kpi.catalog import INDEX

    workspace = workspace.expanduser().resolve()
    settings = settings_for(workspace, must_exist=False)
    out = out.expanduser().resolve()
    written = build_catalog(settings, specs_for(workspace), out)
    console.print(
        f"[green]プロンプト集を作成しました:[/] {out / INDEX}（{len(written)} ページ）",
        soft_wrap=True,
    )
