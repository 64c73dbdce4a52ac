"""`teichaku audit`: every model call, what went where, without a single masked value."""

from __future__ import annotations

import json
import sys
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from teichaku.app import WorkspaceOpt, app, console, settings_for


def audit_rows(database_url: str, zone: tzinfo = UTC) -> list[dict[str, Any]]:
    """One row per model call, oldest first. Only metadata: counts and a hash, never the text.

    `time_utc` stays as it was (scripts read it); `time_local` is the same instant in the
    workspace's zone, with its offset, as a person reads it."""
    from core.store import Store  # SQLAlchemy: ~0.3 s, not for `teichaku --help`

    with Store(database_url) as store:
        docs = {d.id: d for d in store.documents()}
        calls = store.model_calls()
    rows = []
    for c in sorted(calls, key=lambda c: (c.created_at, c.id)):
        doc = docs.get(c.document_id)
        rows.append(
            {
                "time_utc": c.created_at.isoformat(timespec="seconds"),
                # The store keeps naive UTC (core.store.utcnow).
                "time_local": c.created_at.replace(tzinfo=UTC)
                .astimezone(zone)
                .isoformat(timespec="seconds"),
                "document": doc.name if doc else None,
                "department": doc.department if doc else None,
                "spec_id": c.spec_id,
                "spec_version": c.spec_version,
                "engine": c.engine,
                "endpoint_host": c.endpoint_host,
                "model": c.model,
                "purpose": c.purpose,
                "masked_counts": dict(sorted((c.masked_counts or {}).items())),
                "sent_sha256": c.sent_sha256,
                "outcome": c.outcome,
            }
        )
    return rows


@app.command()
def audit(
    workspace: WorkspaceOpt = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Audit trail (監査ログ): every model call with document, spec, endpoint, masked counts and a hash of what was sent."""
    from tasks.guard import LABELS  # the guard's patterns: ~0.1 s, not for `teichaku --help`

    workspace = workspace.expanduser().resolve()
    settings = settings_for(workspace)
    zone = settings.zone
    rows = audit_rows(settings.database_url or "", zone)
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    t = Table(title=f"AI 呼び出し監査ログ / model calls ({len(rows)})")
    for col in (
        f"時刻 ({settings.digest.timezone})",
        "文書",
        "仕様 v",
        "エンジン",
        "接続先",
        "モデル",
        "伏せた件数",
        "送信内容 sha256",
        "結果",
    ):
        t.add_column(col)
    for r in rows:
        masked = ", ".join(f"{LABELS.get(k, k)} {v}" for k, v in r["masked_counts"].items()) or "-"
        t.add_row(
            r["time_local"][:19].replace("T", " "),
            r["document"] or "?",
            f"{r['spec_id']} v{r['spec_version']}",
            r["engine"],
            r["endpoint_host"],
            r["model"],
            masked,
            r["sent_sha256"][:16],
            r["outcome"],
        )
    console.print(t)
    if not rows:
        console.print(
            "AI への送信はまだ記録されていません（オフラインエンジンの処理は外部に送信しません）。"
        )
