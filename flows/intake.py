"""Intake flow: discover what waits in the inboxes, then process documents concurrently.

The flow only composes: every step is a plain function in tasks/, wrapped here for names, tags
and visibility in the Prefect UI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from flows import batch
from flows.batch import DISCOVERED, PROGRESS, Steps, pool_size, run_batch
from tasks.feedback import scan_feedback_task
from tasks.pipeline import BatchContext, process_document
from teichaku.models import BatchSummary, DiscoveredFile, DocumentOutcome
from teichaku.settings import Settings, load_settings

__all__ = ["DISCOVERED", "PROGRESS", "intake_flow", "run_intake"]


@task(name="discover", cache_policy=NO_CACHE)
def discover_task(ctx: BatchContext) -> list[DiscoveredFile]:
    """List ready files in every spec's inbox."""
    return batch.discover_ready(ctx)


@task(
    name="process-document",
    task_run_name="{found.spec_id}: {found.name_nfc}",
    cache_policy=NO_CACHE,
)
def process_document_task(found: DiscoveredFile, ctx: BatchContext) -> DocumentOutcome:
    """Extract, guard, generate, render and publish one document."""
    return process_document(found, ctx)


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
    steps = Steps(
        scan_feedback=scan_feedback_task,
        discover=discover_task,
        submit=lambda f, ctx: process_document_task.with_options(
            tags=[f"dept:{f.spec_id.split('/')[0]}", f"spec:{f.spec_id}"]
        ).submit(f, ctx),
        wait=wait,
    )
    summary = run_batch(settings, steps)
    publish_summary_task(summary)
    return summary


def run_intake(settings: Settings) -> BatchSummary:
    """Run the flow once with a thread pool sized for the endpoint: enough workers to keep
    `llm.concurrency` requests in flight while others parse and render beside them."""
    runnable = intake_flow.with_options(
        task_runner=ThreadPoolTaskRunner(max_workers=pool_size(settings))
    )
    overrides = settings.model_dump(mode="json", exclude={"workspace"}, exclude_unset=True)
    return runnable(
        str(settings.workspace), workspace_name=settings.workspace.name, overrides=overrides
    )
