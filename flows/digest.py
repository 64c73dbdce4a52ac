"""Weekly digest flow: compute the KPIs, publish them as Prefect artifacts, send the e-mail.

The flow only composes; the work is in kpi/ (metrics, digest, mailer). It is what the scheduled
deployment runs (deployments/digest.py); `teichaku digest` does the same without Prefect.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from core.settings import Settings, load_settings
from core.specs import load_specs
from core.store import Store
from kpi.digest import DigestMail, build_digest, recipients_for
from kpi.mailer import SendOutcome, send_digest
from kpi.metrics import (
    KpiOptions,
    KpiReport,
    compute_report,
    current_week,
    parse_week,
    spec_infos,
    week_label,
)

KPI_ARTIFACT_KEY = "teichaku-kpi"
DIGEST_ARTIFACT_KEY = "teichaku-weekly-digest"


def previous_week(timezone: str) -> str:
    """The last complete ISO week: what a Monday-morning run reports on."""
    return week_label(parse_week(current_week(timezone)) - timedelta(days=7))


@task(name="compute-kpis", task_run_name="compute-kpis-{week}", cache_policy=NO_CACHE)
def compute_kpis_task(settings: Settings, week: str) -> KpiReport:
    """The week's KPI report from the store."""
    store = Store(settings.database_url or "")
    try:
        specs = spec_infos(load_specs(settings.workspace))
        return compute_report(
            store, week=week, options=KpiOptions.from_settings(settings), specs=specs
        )
    finally:
        store.dispose()


@task(name="publish-kpi-artifacts", cache_policy=NO_CACHE)
def publish_artifacts_task(report: KpiReport, mail: DigestMail) -> None:
    """The KPI table and the digest as artifacts, so the DX office sees them in the Prefect UI."""
    create_table_artifact(
        table=[r.model_dump(mode="json") for r in report.rows],
        key=KPI_ARTIFACT_KEY,
        description=f"teichaku KPI {report.week}（部署・仕様別）",
    )
    create_markdown_artifact(
        markdown=mail.markdown,
        key=DIGEST_ARTIFACT_KEY,
        description=f"teichaku 週次レポート {report.week}",
    )


@task(
    name="send-digest",
    task_run_name="send-digest-{mail.week}",
    retries=2,
    retry_delay_seconds=[60, 300],
    cache_policy=NO_CACHE,
)
def send_digest_task(
    settings: Settings, mail: DigestMail, recipients: list[str], resend: bool
) -> SendOutcome:
    """Send once per week; a failure before the message went out raises and is retried."""
    store = Store(settings.database_url or "")
    try:
        return send_digest(store, settings.smtp, mail, recipients, resend=resend)
    finally:
        store.dispose()


@flow(name="teichaku-digest", flow_run_name="digest-{workspace_name}", log_prints=False)
def digest_flow(
    workspace: str,
    week: str | None = None,
    send: bool | None = None,
    resend: bool = False,
    workspace_name: str = "workspace",
) -> str | None:
    """Compute the week's KPIs (default: the last complete week), publish them, send the digest.

    send=None sends when an SMTP host is configured; the store makes a second send a no-op.
    Returns the send status (sent / already_sent / uncertain / in_progress) or None.
    """
    settings = load_settings(Path(workspace))
    week = week or previous_week(settings.digest.timezone)
    parse_week(week)
    report = compute_kpis_task(settings, week)
    mail = build_digest(report, settings.digest.catalog_url)
    publish_artifacts_task(report, mail)
    if send is False or (send is None and not settings.smtp.host):
        return None
    outcome = send_digest_task(settings, mail, recipients_for(settings.digest, report), resend)
    return outcome.status
