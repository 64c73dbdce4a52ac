"""The monthly report (月次レポート) for the people who steer the roll-out: per department the
funnel 受付 -> 下書き -> 判定 -> 採用, how much of the adopted drafts was kept, why drafts were not
used, what stopped files (quarantines by reason), the specs that grew and the ones nobody used,
the 横展開 candidates, and the desk to ask (spec owners and the DX office contact).

Counted with kpi.metrics' frame and rule, documents in the month they arrived (in
digest.timezone), so the funnel agrees with `teichaku kpi --json`'s monthly ranking. Rendered from
kpi/templates/monthly/ (jinja2, autoescaped); `month_csv` gives the funnel table as CSV.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel, Field

from core.store import Store
from kpi.metrics import (
    Figures,
    KpiOptions,
    ReasonRow,
    RolloutSuggestion,
    SpecInfo,
    _figures,
    _suggestions,
    _week,
    kpi_frame,
    reason_rows,
    week_label,
)

if TYPE_CHECKING:
    import pandas as pd

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
TEMPLATES = Path(__file__).resolve().parent / "templates" / "monthly"


def parse_month(month: str) -> date:
    """The first day of a month written YYYY-MM. Raises ValueError with a readable message."""
    m = MONTH_RE.match(month.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"month must look like 2026-11, got {month!r}")
    return date(int(m.group(1)), int(m.group(2)), 1)


def month_label(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def current_month(timezone: str) -> str:
    return month_label(datetime.now(ZoneInfo(timezone)).date())


def previous_month(day: date) -> str:
    return month_label(day.replace(day=1) - timedelta(days=1))


def first_working_day(year: int, month: int, company_holidays: list[str]) -> date:
    """The month's first day that is not a weekend, a Japanese public holiday (incl. substitute
    holidays) or one of the company's own closed days (MM-DD)."""
    import holidays  # ~0.1 s; only the scheduled run asks

    public = holidays.Japan(years=year)
    closed = set(company_holidays)
    day = date(year, month, 1)
    while day.weekday() >= 5 or day in public or day.strftime("%m-%d") in closed:
        day += timedelta(days=1)
    return day


class FunnelRow(Figures):
    """One department's month: 受付 (documents) -> 下書き (drafts) -> 判定 -> 採用 (adopted)."""

    department: str
    department_name: str
    judged: int = Field(0, description="adopted + rejected")
    quarantined: int = 0


class QuarantineRow(BaseModel):
    department: str
    department_name: str
    reason: str
    count: int


class SpecUse(BaseModel):
    department_name: str
    spec_id: str
    spec_title: str
    drafts: int
    drafts_last_month: int


class Desk(BaseModel):
    department_name: str
    spec_title: str
    owner: str


class MonthlyReport(BaseModel):
    month: str
    month_title: str
    timezone: str
    generated_at: datetime
    headline: FunnelRow
    funnel: list[FunnelRow]
    reasons: list[ReasonRow]
    quarantines: list[QuarantineRow]
    grew: list[SpecUse]
    unused: list[SpecUse]
    suggestions: list[RolloutSuggestion]
    rollout_rule: str
    desk: list[Desk]
    dx_contact: str


def _funnel(df: pd.DataFrame, dept: str, name: str) -> FunnelRow:
    f = _figures(df)
    quarantined = int((df["status"] == "quarantined").sum())
    return FunnelRow(
        department=dept,
        department_name=name,
        judged=f.adopted + f.rejected,
        quarantined=quarantined,
        **f.model_dump(),
    )


def _quarantines(month_df: pd.DataFrame, name: Any) -> list[QuarantineRow]:
    """Quarantined files of the month by department and reason: what stopped people."""
    counts: dict[tuple[str, str], int] = {}
    for r in month_df[month_df["status"] == "quarantined"].itertuples(index=False):
        key = (r.department, r.quarantine_reason or "（理由なし）")
        counts[key] = counts.get(key, 0) + 1
    rows = [QuarantineRow(department=d, department_name=name(d), reason=why, count=n)
            for (d, why), n in counts.items()]  # fmt: skip
    return sorted(rows, key=lambda r: (r.department, -r.count, r.reason))


def _spec_use(df: pd.DataFrame, month: str, before: str, specs: dict[str, SpecInfo], name: Any) -> tuple[list[SpecUse], list[SpecUse]]:  # fmt: skip
    """Specs with more drafts than the month before, and specs with no document this month."""
    grew, unused = [], []
    for sid in sorted(set(specs) | set(df["spec_id"])):
        mine = df[df["spec_id"] == sid]
        now = int(mine[mine["month"] == month]["drafted"].sum())
        then = int(mine[mine["month"] == before]["drafted"].sum())
        arrived = int((mine["month"] == month).sum())
        info = specs.get(sid)
        use = SpecUse(
            department_name=info.department_name if info else name(sid.split("/")[0]),
            spec_id=sid,
            spec_title=info.title if info else sid,
            drafts=now,
            drafts_last_month=then,
        )
        if now > then:
            grew.append(use)
        if arrived == 0:
            unused.append(use)
    grew.sort(key=lambda u: (-(u.drafts - u.drafts_last_month), u.spec_id))
    return grew, unused


def compute_month(
    store: Store,
    *,
    month: str,
    options: KpiOptions,
    specs: dict[str, SpecInfo],
    owners: dict[str, str],
    dx_contact: str,
) -> MonthlyReport:
    """Every section of one month's report. `owners`: spec id -> the owner its rules name."""
    first = parse_month(month)
    end = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    df = kpi_frame(store, options)
    w = _week(df[df["day"] <= end] if not df.empty else df, week_label(end), options, specs)
    in_month = df[df["month"] == month]
    funnel = [_funnel(in_month[in_month["department"] == d], d, w.name(d)) for d in w.departments]
    grew, unused = _spec_use(df, month, previous_month(first), specs, w.name)
    return MonthlyReport(
        month=month,
        month_title=f"{first.year}年{first.month}月",
        timezone=options.timezone,
        generated_at=datetime.now(ZoneInfo(options.timezone)).replace(microsecond=0),
        headline=_funnel(in_month, "all", "全社"),
        funnel=funnel,
        reasons=reason_rows(in_month, month, w.name, w.title),
        quarantines=_quarantines(in_month, w.name),
        grew=grew,
        unused=unused,
        suggestions=_suggestions(w),
        rollout_rule=f"採用 {options.rollout_min_adopted} 件以上・採用率 {options.rollout_min_adoption_rate:.0%} 以上",
        desk=_desk(specs, owners),
        dx_contact=dx_contact,
    )


def _desk(specs: dict[str, SpecInfo], owners: dict[str, str]) -> list[Desk]:
    """Who to ask about each spec (the owner its rules name), by department."""
    ordered = sorted(specs.items(), key=lambda t: (t[1].department, t[0]))
    return [
        Desk(department_name=s.department_name, spec_title=s.title, owner=owners.get(sid, ""))
        for sid, s in ordered
    ]


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        rate=lambda r: "—" if r is None else f"{r:.0%}",
        hours=lambda h: f"{h:.1f}",
        width=lambda n, top: 0 if not top or not n else max(1, round(100 * n / top)),
    )
    return env


def render_month_html(report: MonthlyReport) -> str:
    """The report as one HTML page (templates/monthly/monthly.html.j2)."""
    top = max((f.documents for f in report.funnel), default=0)
    return _env().get_template("monthly.html.j2").render(report=report, top=top)


FUNNEL_CSV_COLUMNS = (
    "month", "department", "department_name", "documents", "drafts", "judged", "adopted",
    "rejected", "adoption_rate", "retention_median", "untouched_adoptions", "quarantined",
    "hours_saved_est", "hours_saved_confirmed",
)  # fmt: skip


def month_csv(report: MonthlyReport) -> str:
    """The funnel per department (and 全社) as CSV."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FUNNEL_CSV_COLUMNS)
    for row in [*report.funnel, report.headline]:
        values = {"month": report.month, **row.model_dump()}
        writer.writerow(["" if values[c] is None else values[c] for c in FUNNEL_CSV_COLUMNS])
    return out.getvalue()
