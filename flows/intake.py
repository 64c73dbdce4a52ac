"""Intake flow: discover what waits in the inboxes, then process documents concurrently.

The flow only composes: every step is a plain function in tasks/, wrapped here for names, tags
and visibility in the Prefect UI.

Documents run on the batch's own threads, exactly as in `teichaku run` without Prefect, and one
Prefect task per spec ("営業部/商談議事録: 12 件") waits for that spec's documents and logs each
outcome. A Prefect task per document cost ~26 ms of the flow process's CPU each (task engine,
states, events), which took a 480-document batch against a Prefect server from 1.2x to 2.9x of
the endpoint's floor.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Future
from concurrent.futures import wait as wait_all
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from core.models import BatchSummary, DiscoveredFile, DocumentOutcome
from core.settings import Settings, load_settings
from flows import batch
from flows.batch import DISCOVERED, PROGRESS, DocumentThreads, Steps, run_batch
from flows.document import BatchContext
from tasks.feedback import scan_feedback_task

__all__ = ["DISCOVERED", "PROGRESS", "intake_flow", "run_intake"]


@task(name="discover", cache_policy=NO_CACHE)
def discover_task(ctx: BatchContext) -> list[DiscoveredFile]:
    """List ready files in every spec's inbox."""
    return batch.discover_ready(ctx)


@task(name="process-documents", task_run_name="{spec_id}: {count} 件", cache_policy=NO_CACHE)
def spec_documents_task(spec_id: str, count: int, futures: list[Future]) -> dict[str, int]:
    """Wait for one spec's documents (running on the batch's threads); log each outcome."""
    logger = get_run_logger()
    wait_all(futures)
    counts: dict[str, int] = defaultdict(int)
    for fut in futures:
        if fut.exception() is not None:
            counts["stopped"] += 1  # the quota stop; the summary says so
            continue
        outcome: DocumentOutcome = fut.result()
        counts[outcome.status] += 1
        # INFO: shown in the UI under a worker's default level, kept off the CLI's console
        # (apply_prefect_defaults), whose own summary table lists every document.
        reason = f" ({outcome.reason})" if outcome.reason else ""
        logger.info("%s: %s%s", outcome.status, outcome.name, reason)
    return dict(counts)


def report_by_spec(by_spec: dict[str, list[Future]]) -> None:
    """One Prefect task per spec, each waiting for that spec's documents."""
    reports = [
        spec_documents_task.with_options(
            tags=[f"dept:{spec_id.split('/')[0]}", f"spec:{spec_id}"]
        ).submit(spec_id, len(futures), futures)
        for spec_id, futures in by_spec.items()
    ]
    for report in reports:
        report.wait()


@task(name="publish-summary", cache_policy=NO_CACHE)
def publish_summary_task(summary: BatchSummary) -> None:
    """A Markdown artifact the DX office reads in the Prefect UI."""
    lines = [
        f"# 取り込み結果 ({summary.workspace})",
        "",
        f"- エンジン: {summary.engine} / {summary.model}",
        f"- 下書き作成: {summary.count('drafted')} 件, 隔離: {summary.count('quarantined')} 件, "
        f"保留: {summary.count('pending')} 件, 重複: {summary.count('duplicate')} 件",
        f"- 推定削減時間: {summary.minutes_saved:.0f} 分",
        "",
        "| 仕様 | ファイル | 結果 | 理由 |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {o.spec_id} | {o.name} | {o.status} | {o.reason or ''} |" for o in summary.outcomes
    ]
    create_markdown_artifact(
        markdown="\n".join(lines), key="intake-summary", description="teichaku intake"
    )


@flow(name="teichaku-intake", flow_run_name="intake-{workspace_name}", log_prints=False)
def intake_flow(
    workspace: str,
    workspace_name: str = "workspace",
    quiet_seconds: float | None = None,
    overrides: dict[str, Any] | None = None,
) -> BatchSummary:
    """Process every ready document in the workspace once.

    `overrides` carries settings given in code (tests, `teichaku demo`); deployments pass only the
    workspace and the worker reads teichaku.toml and its own TEICHAKU_* environment."""
    settings = load_settings(Path(workspace), **(overrides or {}))
    if quiet_seconds is not None:
        # Scheduled runs (deployments/) pass the watcher's quiet period: never read a file mid-copy.
        settings.intake.quiet_seconds = max(settings.intake.quiet_seconds, quiet_seconds)
    with DocumentThreads(settings) as threads:
        steps = Steps(
            scan_feedback=scan_feedback_task,
            discover=discover_task,
            submit=threads.submit,
            wait=lambda _: report_by_spec(threads.by_spec),
        )
        summary = run_batch(settings, steps)
    publish_summary_task(summary)
    return summary


def run_intake(settings: Settings) -> BatchSummary:
    """Run the flow once (Prefect's task threads only wait: one per spec)."""
    runnable = intake_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=16))
    overrides = settings.model_dump(mode="json", exclude={"workspace"}, exclude_unset=True)
    return runnable(
        str(settings.workspace), workspace_name=settings.workspace.name, overrides=overrides
    )
