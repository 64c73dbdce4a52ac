"""`teichaku feedback`: record whether a draft was used (採用) or not (不採用)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from core.errors import ConfigError
from teichaku.app import WorkspaceOpt, app, console, fail, settings_for, specs_for


class VerdictChoice(StrEnum):
    adopted = "adopted"
    rejected = "rejected"


@app.command()
def feedback(
    draft: Annotated[
        Path,
        typer.Option(
            "--draft", help="The draft (.draft.docx or .draft.md), in the outbox or moved."
        ),
    ],
    verdict: Annotated[
        VerdictChoice, typer.Option("--verdict", help="adopted (採用) or rejected (不採用).")
    ],
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
) -> None:
    """Same as moving the draft into 採用/ or 不採用/: confirms (or zeroes) its time saved."""
    from core.store import Store
    from tasks.feedback import record_cli_feedback

    settings = settings_for(workspace.expanduser().resolve())
    if minutes is not None and verdict is VerdictChoice.rejected:
        fail("--minutes は採用（adopted）のときだけ指定できます。")
    try:
        with Store.open(settings) as store:
            doc = record_cli_feedback(
                settings,
                specs_for(settings.workspace),
                store,
                draft,
                verdict.value,
                minutes,  # type: ignore[arg-type]
            )
    except ConfigError as e:
        fail(str(e))
    label = "採用" if verdict is VerdictChoice.adopted else "不採用"
    extra = f"（実作業 {minutes:g} 分）" if minutes is not None else ""
    console.print(f"記録しました: {doc.name} → {label}{extra}")
