"""`teichaku specs ...`: list (and, later, new / validate / test)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from teichaku.cli import WorkspaceOpt, _settings, _specs, console, specs_app


@specs_app.command("list")
def specs_list(
    workspace: WorkspaceOpt = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the prompt specs with their folders."""
    from teichaku.workspace import folders_for

    workspace = workspace.expanduser().resolve()
    settings = _settings(workspace, must_exist=False)
    rows = []
    for s in _specs(workspace):
        f = folders_for(settings, s.spec)
        rows.append(
            {
                "id": s.spec.id,
                "department": s.spec.department,
                "department_name": s.spec.department_name,
                "title": s.spec.title,
                "version": s.spec.version,
                "origin": s.origin,
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
    from rich.table import Table

    t = Table(title="プロンプト仕様 / prompt specs")
    for col in ("id", "部署", "タイトル", "版", "受付フォルダ"):
        t.add_column(col)
    for r in rows:
        inbox = Path(r["inbox"])
        shown = inbox.relative_to(workspace) if inbox.is_relative_to(workspace) else inbox
        t.add_row(r["id"], r["department_name"], r["title"], str(r["version"]), str(shown))
    console.print(t)
