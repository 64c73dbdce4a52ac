"""The weekly digest as a Prefect flow (`teichaku-digest`, what the scheduled deployment runs):
`flows.digest.weekly_digest` with its steps as Prefect tasks, plus the KPI table and the digest
published as artifacts for the DX office's Prefect UI.

Apart from `flows/digest.py` because importing Prefect costs ~1.4 s (measured with
`python -X importtime`), which `teichaku kpi` and `teichaku digest` must not pay.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from core.settings import Settings, load_settings
from core.specs import LoadedSpec, load_specs
from flows.digest import DigestSteps, send_week, week_report, weekly_digest
from kpi.digest import DigestMail
from kpi.mailer import SendOutcome
from kpi.metrics import KpiReport, previous_week

KPI_ARTIFACT_KEY = "teichaku-kpi"
DIGEST_ARTIFACT_KEY = "teichaku-weekly-digest"


@task(name="compute-kpis", task_run_name="compute-kpis-{week}", cache_policy=NO_CACHE)
def compute_kpis_task(settings: Settings, specs: list[LoadedSpec], week: str) -> KpiReport:
    """The week's KPI report from the store."""
    return week_report(settings, specs, week)


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
    settings: Settings, report: KpiReport, mail: DigestMail, resend: bool
) -> SendOutcome:
    """Send once per week; a failure before the message went out raises and is retried."""
    return send_week(settings, report, mail, resend)


PREFECT_STEPS = DigestSteps(
    report=compute_kpis_task, publish=publish_artifacts_task, send=send_digest_task
)


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
    sending = send is True or (send is None and bool(settings.smtp.host))
    outcome = weekly_digest(
        settings,
        load_specs(settings.workspace),
        week,
        send=sending,
        resend=resend,
        steps=PREFECT_STEPS,
        announce=True,  # the headline goes to the webhook even where no SMTP is configured
    )
    return outcome.sent.status if outcome.sent else None
