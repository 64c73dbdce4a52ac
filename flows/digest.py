"""The weekly digest job, composed once: the week's KPI report from the store, the digest mail
rendered from it, and (when asked) the exactly-once send.

`weekly_digest` is plain code: `teichaku digest` calls it as it is, and the Prefect flow
(`flows/digest_flow.py`, what the scheduled deployment runs) calls it with `DigestSteps` whose
steps are Prefect tasks wrapping the same plain functions, plus one that publishes artifacts.
`teichaku kpi` uses the first step alone (`week_report`). The work itself is in kpi/ (metrics,
digest, mailer); this module imports no Prefect, so the commands stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.settings import Settings
from core.specs import LoadedSpec
from core.store import Store
from kpi.digest import DigestMail, build_digest, recipients_for
from kpi.mailer import SendOutcome, send_digest
from kpi.metrics import KpiOptions, KpiReport, compute_report, parse_week, spec_infos
from tasks.notify import announce_now, digest_event


def week_report(settings: Settings, specs: list[LoadedSpec], week: str) -> KpiReport:
    """The week's KPI report from the workspace's store (ValueError for a malformed week)."""
    with Store.open(settings) as store:
        return compute_report(
            store, week=week, options=KpiOptions.from_settings(settings), specs=spec_infos(specs)
        )


def send_week(
    settings: Settings, report: KpiReport, mail: DigestMail, resend: bool = False
) -> SendOutcome:
    """Send the week's digest to the recipients and the departments' managers, once per week."""
    with Store.open(settings) as store:
        return send_digest(
            store, settings.smtp, mail, recipients_for(settings.digest, report), resend=resend
        )


def announce_week(settings: Settings, mail: DigestMail) -> None:
    """The digest's headline to the webhook (`[notify]`), once per week (recorded in the store)."""
    if not settings.notify.configured():
        return
    with Store.open(settings) as store:
        event = digest_event(mail.week, mail.subject, settings.digest.catalog_url)
        announce_now(settings, store, event)


def _publish_nowhere(report: KpiReport, mail: DigestMail) -> None:
    """Without Prefect there is no UI to publish to; the caller shows or writes the mail."""


@dataclass(frozen=True)
class DigestSteps:
    """The job's steps; the Prefect flow swaps in tasks that wrap these same functions."""

    report: Callable[[Settings, list[LoadedSpec], str], KpiReport] = week_report
    publish: Callable[[KpiReport, DigestMail], None] = _publish_nowhere
    send: Callable[[Settings, KpiReport, DigestMail, bool], SendOutcome] = send_week


PLAIN_STEPS = DigestSteps()


@dataclass(frozen=True)
class DigestOutcome:
    report: KpiReport
    mail: DigestMail
    sent: SendOutcome | None  # None: not sent (a preview, or no SMTP for the scheduled run)


def weekly_digest(
    settings: Settings,
    specs: list[LoadedSpec],
    week: str,
    *,
    send: bool,
    resend: bool = False,
    steps: DigestSteps = PLAIN_STEPS,
    announce: bool = False,
) -> DigestOutcome:
    """Report, mail and (with `send`) the exactly-once send of one ISO week's digest.

    Raises ValueError for a malformed week, and what the mailer raises when nothing could be
    delivered (kpi.mailer.DigestSendError, core.errors.ConfigError)."""
    parse_week(week)
    report = steps.report(settings, specs, week)
    mail = build_digest(report, settings.digest.catalog_url)
    steps.publish(report, mail)
    sent = steps.send(settings, report, mail, resend) if send else None
    if send or announce:
        announce_week(settings, mail)
    return DigestOutcome(report=report, mail=mail, sent=sent)
