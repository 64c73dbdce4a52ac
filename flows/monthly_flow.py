"""The monthly report as a Prefect flow (`teichaku-monthly`, what the scheduled deployment runs).
The deployment wakes on the first days of the month (`report.cron`); the flow makes the report
only on the first working day (weekends, Japanese public holidays and `report.company_holidays`
skipped) and publishes it as an artifact beside the files it writes.
Apart from `flows/monthly.py` because importing Prefect costs ~1.4 s, which `teichaku report`
must not pay."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from core.settings import load_settings
from core.specs import load_specs
from flows.monthly import MonthFiles, due_month, write_month

MONTHLY_ARTIFACT_KEY = "teichaku-monthly"


@task(name="write-monthly-report", task_run_name="monthly-{month}", cache_policy=NO_CACHE)
def write_month_task(workspace: str, month: str) -> MonthFiles:
    """The month's HTML and CSV in the workspace's report folder."""
    settings = load_settings(Path(workspace))
    return write_month(settings, load_specs(settings.workspace), month)


@flow(name="teichaku-monthly", flow_run_name="monthly-{workspace_name}", log_prints=False)
def monthly_flow(
    workspace: str, month: str | None = None, workspace_name: str = "workspace"
) -> str | None:
    """The last month's report on the first working day (or `month` when given); returns the
    HTML's path, or None on a day with nothing to do."""
    settings = load_settings(Path(workspace))
    month = month or due_month(settings)
    if month is None:
        return None
    files = write_month_task(workspace, month)
    create_table_artifact(
        table=[f.model_dump(mode="json") for f in files.report.funnel],
        key=MONTHLY_ARTIFACT_KEY,
        description=f"teichaku 月次レポート {files.report.month_title}（{files.html}）",
    )
    return str(files.html)
