"""Intake flow: discover what waits in the inboxes, then process documents concurrently.

The flow only composes: every step is a plain function in tasks/, wrapped here for names, tags
and visibility in the Prefect UI.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from tasks.discover import discover
from tasks.pipeline import BatchContext, inboxes, open_batch, process_document
from teichaku.errors import EngineUnavailable
from teichaku.models import BatchSummary, DiscoveredFile, DocumentOutcome
from teichaku.settings import Settings, load_settings
from teichaku.specs import load_specs

# Listeners for per-document progress (the CLI's progress bar). A module-level hook, because flow
# parameters must stay serialisable for deployments.
PROGRESS: list[Callable[[DocumentOutcome], None]] = []
DISCOVERED: list[Callable[[int], None]] = []


@task(name="discover", cache_policy=NO_CACHE)
def discover_task(ctx: BatchContext) -> list[DiscoveredFile]:
    """List ready files in every spec's inbox."""
    return discover(inboxes(ctx), ctx.settings.workspace, quiet_seconds=ctx.settings.intake.quiet_seconds)


@task(name="process-document", task_run_name="{found.spec_id}: {found.name_nfc}", cache_policy=NO_CACHE)
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
    lines += [f"| {o.spec_id} | {o.name} | {o.status} | {o.reason or ''} |" for o in summary.outcomes]
    create_markdown_artifact(markdown="\n".join(lines), key="intake-summary", description="teichaku intake")


def _collect(futures: list, found: list[DiscoveredFile]) -> tuple[list[DocumentOutcome], str | None]:
    wait(futures)
    outcomes: list[DocumentOutcome] = []
    stopped: str | None = None
    for fut, f in zip(futures, found, strict=True):
        try:
            outcomes.append(fut.result())
        except EngineUnavailable as e:
            stopped = str(e)
            outcomes.append(DocumentOutcome(spec_id=f.spec_id, name=f.name_nfc, status="pending", reason=str(e)))
    return outcomes, stopped


@flow(name="teichaku-intake", flow_run_name="intake-{workspace_name}", log_prints=False)
def intake_flow(workspace: str, workspace_name: str = "workspace") -> BatchSummary:
    """Process every ready document in the workspace once."""
    started = time.monotonic()
    settings = load_settings(Path(workspace))
    ctx = open_batch(settings, load_specs(settings.workspace))
    ctx.on_done = lambda o: [cb(o) for cb in PROGRESS]
    try:
        found = discover_task(ctx)
        for cb in DISCOVERED:
            cb(len(found))
        futures = [
            process_document_task.with_options(tags=[f"dept:{f.spec_id.split('/')[0]}", f"spec:{f.spec_id}"]).submit(
                f, ctx
            )
            for f in found
        ]
        outcomes, stopped = _collect(futures, found)
    finally:
        ctx.store.dispose()
    summary = BatchSummary(
        workspace=str(settings.workspace),
        engine=getattr(ctx.engine, "name", settings.engine),
        model=getattr(ctx.engine, "model", settings.llm.model),
        outcomes=outcomes,
        stopped_reason=stopped,
        seconds=time.monotonic() - started,
    )
    publish_summary_task(summary)
    return summary


def run_intake(settings: Settings) -> BatchSummary:
    """Run the flow once with a thread pool sized for the endpoint: enough workers to keep
    `llm.concurrency` requests in flight while others parse and render beside them."""
    workers = max(4, settings.llm.concurrency * 2)
    runnable = intake_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=workers))
    return runnable(str(settings.workspace), workspace_name=settings.workspace.name)
