"""The monthly report job, composed once: the month's report from the store, rendered as HTML and
CSV. `teichaku report` calls `month_report` as it is; the Prefect flow (flows/monthly_flow.py, what
the scheduled deployment runs on the month's first working day) calls `write_month`. No Prefect
import here, so the command stays fast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core.settings import Settings
from core.specs import LoadedSpec
from core.store import Store
from kpi.metrics import KpiOptions, spec_infos
from kpi.monthly import (
    MonthlyReport,
    compute_month,
    first_working_day,
    month_csv,
    parse_month,
    previous_month,
    render_month_html,
)


def month_report(settings: Settings, specs: list[LoadedSpec], month: str) -> MonthlyReport:
    """One month's report from the workspace's store (ValueError for a malformed month)."""
    parse_month(month)
    owners = {s.spec.id: s.spec.rules.owner for s in specs}
    with Store.open(settings) as store:
        return compute_month(
            store,
            month=month,
            options=KpiOptions.from_settings(settings),
            specs=spec_infos(specs),
            owners=owners,
            dx_contact=settings.report.dx_contact,
        )


@dataclass(frozen=True)
class MonthFiles:
    report: MonthlyReport
    html: Path
    csv: Path


def write_month(settings: Settings, specs: list[LoadedSpec], month: str) -> MonthFiles:
    """The month's report as <report.out_dir>/<month>.html and .csv in the workspace."""
    report = month_report(settings, specs, month)
    out_dir = settings.workspace / settings.report.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    html, table = out_dir / f"{month}.html", out_dir / f"{month}.csv"
    html.write_text(render_month_html(report), encoding="utf-8")
    table.write_text(month_csv(report), encoding="utf-8-sig")  # BOM: Excel reads it as UTF-8
    return MonthFiles(report, html, table)


def due_month(settings: Settings, today: date | None = None) -> str | None:
    """The month to report on when `today` is this month's first working day (the month that
    just ended); None on every other day, when the scheduled run has nothing to do."""
    today = today or datetime.now(ZoneInfo(settings.serve.timezone)).date()
    if today != first_working_day(today.year, today.month, settings.report.company_holidays):
        return None
    return previous_month(today)
