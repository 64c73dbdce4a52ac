"""`teichaku digest`: preview or send the weekly digest e-mail (no Prefect needed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.errors import ConfigError
from teichaku.app import WorkspaceOpt, app, console, err, fail, settings_for, specs_for
from teichaku.commands.kpi import WeekOpt, resolve_week

if TYPE_CHECKING:
    from collections.abc import Callable

    from kpi.digest import DigestMail
    from kpi.metrics import KpiReport


@app.command()
def digest(
    workspace: WorkspaceOpt = Path("."),
    week: WeekOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the HTML e-mail here to preview it.")
    ] = None,
    send: Annotated[
        bool, typer.Option("--send", help="Send it over SMTP (once per week).")
    ] = False,
    resend: Annotated[
        bool,
        typer.Option(
            "--resend", help="Send again although this week's digest was sent or may have been."
        ),
    ] = False,
) -> None:
    """The weekly digest: headline, departments, trend, success cases, roll-out ideas, ranking."""
    if not (out or send or resend):
        fail("--out FILE.html（プレビュー）か --send（送信）を指定してください。")
    # The digest job (SQLAlchemy, jinja2, the mailer; pandas later): ~0.6 s, only this command.
    from flows.digest import DigestSteps, weekly_digest
    from kpi.mailer import DigestSendError

    settings = settings_for(workspace.expanduser().resolve())
    week = resolve_week(settings, week)
    # The preview is this runner's way of publishing: written before any send, as in Prefect.
    steps = DigestSteps(publish=_preview_writer(out)) if out else DigestSteps()
    try:
        outcome = weekly_digest(
            settings, specs_for(settings.workspace), week, send=send or resend, resend=resend,
            steps=steps,
        )  # fmt: skip
    except (ConfigError, DigestSendError) as e:
        fail(str(e), code=3)
    sent = outcome.sent
    if sent is None:
        return
    if sent.status in ("sent", "already_sent"):
        console.print(sent.message_ja)
        for rcpt, why in sent.refused.items():
            err.print(f"[yellow]宛先を拒否されました:[/] {rcpt} ({why})")
        return
    err.print(f"[bold yellow]{sent.message_ja}[/]")
    raise typer.Exit(4)


def _preview_writer(out: Path) -> Callable[[KpiReport, DigestMail], None]:
    """A publish step that writes the HTML mail to `out` for a preview."""
    path = out.expanduser()

    def write(report: KpiReport, mail: DigestMail) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(mail.html, encoding="utf-8")
        console.print(f"プレビューを書き出しました: {path}")

    return write
