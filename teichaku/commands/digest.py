"""`teichaku digest`: preview or send the weekly digest e-mail (no Prefect needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.errors import ConfigError
from teichaku.app import WorkspaceOpt, app, console, err, fail, settings_for
from teichaku.commands.kpi import WeekOpt, build_report


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
    from kpi.digest import build_digest, recipients_for

    settings = settings_for(workspace.expanduser().resolve())
    report = build_report(settings, week)
    mail = build_digest(report, settings.digest.catalog_url)
    if out:
        out = out.expanduser()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(mail.html, encoding="utf-8")
        console.print(f"プレビューを書き出しました: {out}")
    if not (send or resend):
        return
    from core.store import Store
    from kpi.mailer import DigestSendError, send_digest

    store = Store(settings.database_url or "")
    try:
        outcome = send_digest(
            store, settings.smtp, mail, recipients_for(settings.digest, report), resend=resend
        )
    except (ConfigError, DigestSendError) as e:
        fail(str(e), code=3)
        raise
    finally:
        store.dispose()
    if outcome.status in ("sent", "already_sent"):
        console.print(outcome.message_ja)
        for rcpt, why in outcome.refused.items():
            err.print(f"[yellow]宛先を拒否されました:[/] {rcpt} ({why})")
        return
    err.print(f"[bold yellow]{outcome.message_ja}[/]")
    raise typer.Exit(4)
