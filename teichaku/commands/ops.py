"""`teichaku watch` and `teichaku serve`: running teichaku as a service."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from core.errors import ConfigError
from teichaku.app import WorkspaceOpt, app, console, err, fail, settings_for, specs_for

STATUS_JA = {
    "drafted": "下書き作成",
    "quarantined": "隔離",
    "pending": "保留",
    "duplicate": "重複",
    "skipped": "スキップ",
}


def _check_store(settings) -> None:  # settings: Settings
    from core.settings import check_store_location  # pydantic-settings: ~0.06 s, not for --help

    try:
        check_store_location(settings)
    except ConfigError as e:
        fail(str(e))


@app.command()
def watch(workspace: WorkspaceOpt = Path(".")) -> None:
    """Watch the inboxes and draft each dropped file as soon as it is completely written.

    Polls (works on SMB/NFS shares), uses OS file events where they work, and rescans
    periodically. Stops on Ctrl-C or SIGTERM, finishing or releasing documents in progress.
    """
    # flows.watch (the document path: store, readers, guard): ~0.5 s; only `watch` needs it.
    from core.settings import apply_prefect_defaults
    from core.workspace import folders_for
    from flows.watch import Watcher, folder_problems

    workspace = workspace.expanduser().resolve()
    settings = settings_for(workspace)
    specs = specs_for(workspace)
    _check_store(settings)
    apply_prefect_defaults(settings)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("teichaku").setLevel(logging.INFO)

    problems = folder_problems(settings, specs)
    for line in problems:
        err.print(f"[yellow]注意:[/] {line}")
    if not any(folders_for(settings, s.spec).inbox.is_dir() for s in specs):
        fail(f"見張る受付フォルダがありません。先に実行してください: teichaku init {workspace}")

    def on_outcome(o) -> None:  # o: DocumentOutcome
        line = f"{STATUS_JA.get(o.status, o.status)}: {o.spec_id} {o.name}"
        if o.draft:
            line += f" → {o.draft.docx.name}"
        elif o.reason:
            line += f"（{o.reason}）"
        console.print(line, highlight=False)

    watcher = Watcher(settings, specs, on_outcome=on_outcome)
    signal.signal(signal.SIGTERM, lambda *_: watcher.stop())
    signal.signal(signal.SIGINT, lambda *_: watcher.stop())
    cfg = settings.watch
    console.print(
        f"[bold]見張りを開始しました / watching[/] {workspace}  "
        f"(確認間隔 {cfg.poll_interval_seconds:g} 秒, 書き込み完了の待ち {watcher.quiet:g} 秒; 停止は Ctrl-C)",
        highlight=False,
    )
    report = watcher.run()
    drafted = sum(1 for o in report.outcomes if o.status == "drafted")
    console.print(
        f"停止しました / stopped: 下書き {drafted} 件, 処理 {len(report.outcomes)} 件",
        highlight=False,
    )
    if report.abandoned:
        err.print(
            f"処理中だった {report.abandoned} 件は中断しました（受付に残っており、次回に処理されます）。"
        )
        sys.stdout.flush()
        sys.stderr.flush()
        # Threads still inside the engine cannot be interrupted; their claims were released and
        # every write is atomic, so ending here is as safe as a crash, and keeps the promise to
        # stop within seconds.
        os._exit(0)


@app.command()
def serve(
    workspace: WorkspaceOpt = Path("."),
    limit: Annotated[
        int | None, typer.Option(help="Most flow runs at once in this process.")
    ] = None,
) -> None:
    """Serve the intake deployment (every minute) and the weekly digest from this machine.

    Uses the Prefect server at PREFECT_API_URL; without it, starts a local one on loopback
    (its database in <workspace>/.teichaku/prefect), because Prefect's in-process server
    does not run schedules.
    """
    # pydantic-settings and the deployments package: ~0.06 s, not for --help.
    from core.settings import apply_prefect_defaults, prefect_api_url, use_prefect_api
    from deployments.local_server import LocalPrefectServer

    workspace = workspace.expanduser().resolve()
    settings = settings_for(workspace)
    specs_for(workspace)
    _check_store(settings)
    apply_prefect_defaults(settings)

    server: LocalPrefectServer | None = None
    if prefect_api_url() is None:
        console.print("PREFECT_API_URL が未設定のため、ローカルの Prefect サーバーを起動します…")
        server = LocalPrefectServer(settings.state_dir / "prefect").start()
        use_prefect_api(server.api_url)  # before Prefect is imported below
    try:
        # Prefect: ~0.8 s, only `serve`, and only after use_prefect_api above set its server.
        from prefect import serve as prefect_serve

        from deployments import build_deployments, ensure_zombie_automation

        deployments = build_deployments(settings)
        ensure_zombie_automation(settings.serve.crash_after_seconds)
        console.print(f"[bold]Prefect:[/] {prefect_api_url()}", highlight=False)
        for d in deployments:
            when = ", ".join(_describe(s) for s in d.schedules or [])
            console.print(
                f"  {d.flow_name}/{d.name}  {when}  tags={','.join(d.tags)}", highlight=False
            )
        console.print("停止は Ctrl-C / SIGTERM です。")
        prefect_serve(*deployments, limit=limit, print_starting_message=False)
    finally:
        if server is not None:
            server.stop()


def _describe(schedule) -> str:  # schedule: DeploymentScheduleCreate
    s = schedule.schedule
    if getattr(s, "cron", None):
        return f"cron {s.cron} ({s.timezone})"
    if getattr(s, "interval", None):
        return f"every {s.interval.total_seconds():g} s"
    return str(s)
