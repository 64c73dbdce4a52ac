"""KPI tables computed with pandas from the store: totals, and the weekly report behind
`teichaku kpi` and the digest e-mail."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from pydantic import BaseModel, Field

from core.store import Store

TOTAL_COLUMNS = [
    "department",
    "spec_id",
    "documents",
    "drafted",
    "quarantined",
    "pending",
    "duplicates",
    "minutes_saved_est",
    "model_calls",
    "prompt_tokens",
    "completion_tokens",
]


def summarise_totals(frame: pd.DataFrame) -> pd.DataFrame:
    """All-time totals by department and spec from `kpi_frame`: outcomes, minutes, model usage."""
    if frame.empty:
        return pd.DataFrame(columns=TOTAL_COLUMNS)
    status = frame["status"]
    counted = frame.assign(
        documents=1,
        drafted=(status == "drafted").astype(int),
        quarantined=(status == "quarantined").astype(int),
        pending=(status == "pending").astype(int),
        minutes_saved_est=frame["minutes_est"],
        model_calls=frame["calls"],
    )
    out = counted.groupby(["department", "spec_id"], as_index=False)[TOTAL_COLUMNS[2:]].sum()
    return out.sort_values(["department", "spec_id"]).reset_index(drop=True)


def totals(store: Store) -> pd.DataFrame:
    """Totals by department and spec: documents, outcomes, estimated minutes saved, model usage."""
    return summarise_totals(kpi_frame(store, KpiOptions()))


# --- weekly KPIs --------------------------------------------------------------------------
#
# Time-saved model: a draft's *estimated* saving is its spec's baseline minus review minutes,
# recorded when it was made. Feedback *confirms* it: adopted -> baseline minus the minutes the
# person said they actually spent (or the estimate when they gave none), rejected -> zero.
# Everything is counted in the week (and month) the document arrived, in the digest's time
# zone, so late feedback updates that week's figures instead of inflating the current one.

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_week(week: str) -> date:
    """Monday of an ISO week written YYYY-Www. Raises ValueError with a readable message."""
    m = WEEK_RE.match(week.strip())
    if not m:
        raise ValueError(f"week must look like 2026-W48, got {week!r}")
    try:
        return date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError as e:
        raise ValueError(f"no such ISO week: {week!r}") from e


def week_label(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def current_week(timezone: str) -> str:
    return week_label(datetime.now(ZoneInfo(timezone)).date())


class SpecInfo(BaseModel):
    spec_id: str
    department: str
    department_name: str
    document_name: str
    title: str


def spec_infos(specs: list[Any]) -> dict[str, SpecInfo]:
    """SpecInfo per spec id from loaded specs (core.specs.LoadedSpec)."""
    out: dict[str, SpecInfo] = {}
    for loaded in specs:
        s = loaded.spec
        out[s.id] = SpecInfo(
            spec_id=s.id,
            department=s.department,
            department_name=s.department_name,
            document_name=s.document_name,
            title=s.title,
        )
    return out


class KpiOptions(BaseModel):
    timezone: str = "Asia/Tokyo"
    trend_weeks: int = 8
    cost_per_1k_tokens: float = 0.1
    currency: str = "円"
    success_cases: int = 3
    excerpts: bool = True
    rollout_min_adopted: int = 3
    rollout_min_adoption_rate: float = 0.6
    per_person: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> KpiOptions:
        d = settings.digest
        return cls(
            timezone=d.timezone,
            trend_weeks=d.trend_weeks,
            cost_per_1k_tokens=d.cost_per_1k_tokens,
            currency=d.currency,
            success_cases=d.success_cases,
            excerpts=d.excerpts,
            rollout_min_adopted=d.rollout_min_adopted,
            rollout_min_adoption_rate=d.rollout_min_adoption_rate,
            per_person=d.per_person_metrics,
        )


class Figures(BaseModel):
    """The counts every table shares."""

    documents: int = 0
    drafts: int = 0
    adopted: int = 0
    rejected: int = 0
    adoption_rate: float | None = Field(
        None, description="adopted / (adopted + rejected); None before any feedback"
    )
    hours_saved_est: float = Field(0.0, description="Estimated: every draft at its spec's estimate")
    hours_saved_confirmed: float = Field(
        0.0, description="Confirmed by feedback (adopted drafts only)"
    )
    active_people: int = 0
    tokens: int = 0
    cost_est: float = 0.0


class KpiRow(Figures):
    week: str
    department: str
    department_name: str
    spec_id: str
    spec_title: str


class VersionRow(Figures):
    """One spec version's figures in the week, so the DX office can compare v3 with v2."""

    week: str
    department: str
    department_name: str
    spec_id: str
    spec_title: str
    spec_version: int | None = Field(
        description="The spec version the documents were drafted with; None: no documents this week"
    )


class DepartmentRow(Figures):
    week: str
    department: str
    department_name: str


class TrendPoint(Figures):
    week: str
    week_start: date


class RankingRow(Figures):
    rank: int
    department: str
    department_name: str


class SuccessCase(BaseModel):
    department: str
    department_name: str
    spec_id: str
    spec_title: str
    week: str
    draft_name: str
    minutes_saved_confirmed: float
    minutes_spent: float | None
    excerpt: str | None


class RolloutSuggestion(BaseModel):
    spec_id: str
    spec_title: str
    use_case: str
    from_department: str
    from_department_name: str
    adopted: int
    adoption_rate: float
    hours_saved_confirmed: float
    to_departments: list[str]
    to_department_names: list[str]


class PersonRow(Figures):
    week: str
    department: str
    department_name: str
    owner: str


class TotalRow(BaseModel):
    """All-time totals for one department and spec (not only the report's week)."""

    department: str
    spec_id: str
    documents: int
    drafted: int
    quarantined: int
    pending: int
    duplicates: int
    minutes_saved_est: float
    model_calls: int
    prompt_tokens: int
    completion_tokens: int


class KpiReport(BaseModel):
    week: str
    week_start: date
    week_end: date
    month: str
    timezone: str
    generated_at: datetime
    currency: str
    cost_per_1k_tokens: float
    rollout_min_adopted: int
    rollout_min_adoption_rate: float
    headline: Figures
    departments: list[DepartmentRow]
    rows: list[KpiRow]
    versions: list[VersionRow] = Field(
        description="The rows split by spec version (week x department x spec x version)"
    )
    trend: list[TrendPoint]
    ranking: list[RankingRow]
    success_cases: list[SuccessCase]
    suggestions: list[RolloutSuggestion]
    people: list[PersonRow] | None = None
    totals: list[TotalRow] = Field(
        default_factory=list, description="All time, by department and spec"
    )


_FRAME_COLUMNS = [
    "id", "department", "spec_id", "spec_version", "status", "owner", "created_at", "minutes_est", "draft_md",
    "draft_name", "verdict", "minutes_spent", "baseline_minutes", "feedback_path", "tokens", "cost",
    "duplicates", "calls", "prompt_tokens", "completion_tokens",
]  # fmt: skip


def kpi_frame(store: Store, options: KpiOptions) -> pd.DataFrame:
    """One row per document with its feedback, tokens and cost, and its local date, week and month."""
    feedback = {f.document_id: f for f in store.feedback()}
    tokens: dict[int, int] = {}
    cost: dict[int, float] = {}
    usage: dict[int, tuple[int, int, int]] = {}  # calls, prompt tokens, completion tokens
    for c in store.model_calls():
        n = c.prompt_tokens + c.completion_tokens
        tokens[c.document_id] = tokens.get(c.document_id, 0) + n
        calls, prompt, completion = usage.get(c.document_id, (0, 0, 0))
        usage[c.document_id] = (
            calls + 1,
            prompt + c.prompt_tokens,
            completion + c.completion_tokens,
        )
        # The offline engine runs on this machine: its "tokens" cost nothing.
        price = 0.0 if c.engine == "offline" else options.cost_per_1k_tokens
        cost[c.document_id] = cost.get(c.document_id, 0.0) + n / 1000 * price
    rows = []
    for d in store.documents():
        f = feedback.get(d.id)
        rows.append(
            {
                "id": d.id,
                "department": d.department,
                "spec_id": d.spec_id,
                "spec_version": d.spec_version,
                "status": d.status,
                "owner": d.owner,
                "created_at": d.created_at,
                "minutes_est": d.minutes_saved_est if d.status == "drafted" else 0.0,
                "draft_md": d.draft_md,
                "draft_name": Path(d.draft_docx or d.draft_md or d.name).name,
                "verdict": f.verdict if f and d.status == "drafted" else None,
                "minutes_spent": f.minutes_spent if f else None,
                "baseline_minutes": f.baseline_minutes if f else None,
                "feedback_path": f.path if f else None,
                "tokens": tokens.get(d.id, 0),
                "cost": cost.get(d.id, 0.0),
                "duplicates": d.duplicates,
                **dict(
                    zip(
                        ("calls", "prompt_tokens", "completion_tokens"),
                        usage.get(d.id, (0, 0, 0)),
                        strict=True,
                    )
                ),
            }
        )
    df = pd.DataFrame(rows, columns=_FRAME_COLUMNS)
    local = pd.to_datetime(df["created_at"]).dt.tz_localize("UTC").dt.tz_convert(options.timezone)
    df["day"] = [ts.date() for ts in local]
    df["week"] = [week_label(d) for d in df["day"]]
    df["month"] = [f"{d.year}-{d.month:02d}" for d in df["day"]]
    df["drafted"] = df["status"] == "drafted"
    df["adopted"] = df["verdict"] == "adopted"
    df["rejected"] = df["verdict"] == "rejected"
    df["minutes_confirmed"] = [_confirmed_minutes(r) for r in df.itertuples(index=False)]
    return df


def _confirmed_minutes(r: Any) -> float:
    if r.verdict == "adopted":
        if (
            r.minutes_spent is not None
            and not pd.isna(r.minutes_spent)
            and r.baseline_minutes is not None
            and not pd.isna(r.baseline_minutes)
        ):
            return max(float(r.baseline_minutes) - float(r.minutes_spent), 0.0)
        return float(r.minutes_est)
    return 0.0


def _figures(df: pd.DataFrame) -> Figures:
    adopted, rejected = int(df["adopted"].sum()), int(df["rejected"].sum())
    judged = adopted + rejected
    return Figures(
        documents=len(df),
        drafts=int(df["drafted"].sum()),
        adopted=adopted,
        rejected=rejected,
        adoption_rate=round(adopted / judged, 3) if judged else None,
        hours_saved_est=round(float(df["minutes_est"].sum()) / 60, 1),
        hours_saved_confirmed=round(float(df["minutes_confirmed"].sum()) / 60, 1),
        active_people=int(df["owner"].dropna().nunique()),
        tokens=int(df["tokens"].sum()),
        cost_est=round(float(df["cost"].sum()), 1),
    )


def _figs(df: pd.DataFrame) -> dict[str, Any]:
    return _figures(df).model_dump()


def compute_report(
    store: Store, *, week: str, options: KpiOptions, specs: dict[str, SpecInfo] | None = None
) -> KpiReport:
    """Every KPI the digest and `teichaku kpi` show, for one ISO week."""
    specs = specs or {}
    start = parse_week(week)
    end = start + timedelta(days=6)
    thursday = start + timedelta(
        days=3
    )  # the ISO convention: a week belongs to its Thursday's month
    month = f"{thursday.year}-{thursday.month:02d}"
    df = kpi_frame(store, options)
    upto = df[df["day"] <= end] if not df.empty else df

    dept_names = {s.department: s.department_name for s in specs.values()}
    all_depts = sorted(set(dept_names) | set(df["department"]))
    all_specs = sorted(set(specs) | set(df["spec_id"]))
    spec_dept = {sid: s.department for sid, s in specs.items()}
    for r in df.itertuples(index=False):
        spec_dept.setdefault(r.spec_id, r.department)

    def name(dept: str) -> str:
        return dept_names.get(dept, dept)

    def title(spec_id: str) -> str:
        return specs[spec_id].title if spec_id in specs else spec_id

    this_week = df[df["week"] == week]
    rows = [
        KpiRow(
            week=week,
            department=spec_dept[sid],
            department_name=name(spec_dept[sid]),
            spec_id=sid,
            spec_title=title(sid),
            **_figs(this_week[this_week["spec_id"] == sid]),
        )
        for sid in all_specs
    ]
    rows.sort(key=lambda r: (r.department, r.spec_id))
    versions = [
        VersionRow(
            week=week,
            department=spec_dept[sid],
            department_name=name(spec_dept[sid]),
            spec_id=sid,
            spec_title=title(sid),
            spec_version=version,
            **_figs(g),
        )
        for sid in all_specs
        for version, g in _by_version(this_week[this_week["spec_id"] == sid])
    ]
    versions.sort(key=lambda r: (r.department, r.spec_id, r.spec_version or 0))
    departments = [
        DepartmentRow(
            week=week,
            department=d,
            department_name=name(d),
            **_figs(this_week[this_week["department"] == d]),
        )
        for d in all_depts
    ]
    weeks = [week_label(start - timedelta(weeks=i)) for i in reversed(range(options.trend_weeks))]
    trend = [
        TrendPoint(week=w, week_start=parse_week(w), **_figs(df[df["week"] == w])) for w in weeks
    ]
    in_month = upto[upto["month"] == month]
    ranked = sorted(
        ((d, _figures(in_month[in_month["department"] == d])) for d in all_depts),
        key=lambda t: (
            -t[1].drafts,
            -t[1].adopted,
            -t[1].hours_saved_confirmed,
            -t[1].hours_saved_est,
            t[0],
        ),
    )
    ranking: list[RankingRow] = []
    for i, (d, f) in enumerate(ranked):
        prev = ranking[-1] if ranking else None
        same = prev is not None and (prev.drafts, prev.adopted, prev.hours_saved_confirmed, prev.hours_saved_est) == (
            f.drafts, f.adopted, f.hours_saved_confirmed, f.hours_saved_est)  # fmt: skip
        ranking.append(
            RankingRow(
                rank=prev.rank if same and prev else i + 1,
                department=d,
                department_name=name(d),
                **f.model_dump(),
            )
        )
    window = upto[upto["week"].isin(weeks)]
    return KpiReport(
        week=week,
        week_start=start,
        week_end=end,
        month=month,
        timezone=options.timezone,
        generated_at=datetime.now(ZoneInfo(options.timezone)).replace(microsecond=0),
        currency=options.currency,
        cost_per_1k_tokens=options.cost_per_1k_tokens,
        rollout_min_adopted=options.rollout_min_adopted,
        rollout_min_adoption_rate=options.rollout_min_adoption_rate,
        headline=_figures(this_week),
        departments=departments,
        rows=rows,
        versions=versions,
        totals=[TotalRow(**r) for r in summarise_totals(df).to_dict("records")],
        trend=trend,
        ranking=ranking,
        success_cases=_success_cases(window, options, name, title),
        suggestions=_suggestions(upto, all_depts, options, name, title),
        people=_people(this_week, week, name) if options.per_person else None,
    )


def _by_version(spec_week: pd.DataFrame) -> list[tuple[int | None, pd.DataFrame]]:
    """One spec's documents of the week per spec version; a spec unused this week still gets one
    (all-zero) row, as in `rows`, so every spec stays visible in the version table."""
    if spec_week.empty:
        return [(None, spec_week)]
    return [(int(v), g) for v, g in spec_week.groupby("spec_version", sort=True)]


def _success_cases(
    window: pd.DataFrame, options: KpiOptions, name: Any, title: Any
) -> list[SuccessCase]:
    adopted = window[window["adopted"]].sort_values(
        ["minutes_confirmed", "created_at"], ascending=[False, False]
    )
    out = []
    for r in adopted.head(options.success_cases).itertuples(index=False):
        out.append(
            SuccessCase(
                department=r.department,
                department_name=name(r.department),
                spec_id=r.spec_id,
                spec_title=title(r.spec_id),
                week=r.week,
                draft_name=r.draft_name,
                minutes_saved_confirmed=round(float(r.minutes_confirmed), 1),
                minutes_spent=None if pd.isna(r.minutes_spent) else float(r.minutes_spent),
                excerpt=draft_excerpt(_md_candidates(r)) if options.excerpts else None,
            )
        )
    return out


def _md_candidates(r: Any) -> list[Path]:
    """Where the draft's Markdown may be now: moved with the verdict, or still in the outbox."""
    out: list[Path] = []
    if isinstance(r.feedback_path, str) and r.feedback_path:
        p = Path(r.feedback_path)
        out.append(
            p if p.name.endswith(".md") else p.with_name(p.name.removesuffix(".docx") + ".md")
        )
    if isinstance(r.draft_md, str) and r.draft_md:
        out.append(Path(r.draft_md))
    return out


def draft_excerpt(candidates: list[Path], max_chars: int = 90) -> str | None:
    """The first section of a draft .md (heading and first lines), for a success case."""
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        # The header (banner, source, spec, engine) ends at the first rule; the content follows.
        _, rule, body = text.partition("\n---\n")
        lines = (body if rule else text).splitlines()
        heading, parts = None, []
        for line in lines:
            s = line.strip()
            if s.startswith("#"):
                if parts:
                    break
                heading = s.lstrip("#").strip()
                continue
            s = re.sub(r"^([-*>]|\d+\.)\s+", "", s).replace("**", "")
            if s and not set(s) <= set("|-: "):
                parts.append(
                    " / ".join(c.strip() for c in s.strip("|").split("|"))
                    if s.startswith("|")
                    else s
                )
        excerpt = " ".join(parts)
        if not excerpt:
            continue
        excerpt = f"{heading}：{excerpt}" if heading else excerpt
        return excerpt if len(excerpt) <= max_chars else excerpt[: max_chars - 1] + "…"
    return None


def _suggestions(
    upto: pd.DataFrame, all_depts: list[str], options: KpiOptions, name: Any, title: Any
) -> list[RolloutSuggestion]:
    """横展開: a use case (the document part of a spec id, e.g. meeting_minutes) that earned its
    keep in one department and that another department has not tried at all."""
    if upto.empty:
        return []
    use_case = upto["spec_id"].str.split("/").str[-1]
    tried: dict[str, set[str]] = {}
    for uc, dept in zip(use_case, upto["department"], strict=True):
        tried.setdefault(uc, set()).add(dept)
    out = []
    for (dept, spec_id), g in upto.groupby(["department", "spec_id"]):
        f = _figures(g)
        if (
            f.adopted < options.rollout_min_adopted
            or (f.adoption_rate or 0) < options.rollout_min_adoption_rate
        ):
            continue
        uc = str(spec_id).split("/")[-1]
        targets = [d for d in all_depts if d not in tried.get(uc, set())]
        if not targets:
            continue
        out.append(
            RolloutSuggestion(
                spec_id=str(spec_id),
                spec_title=title(spec_id),
                use_case=uc,
                from_department=str(dept),
                from_department_name=name(dept),
                adopted=f.adopted,
                adoption_rate=f.adoption_rate or 0.0,
                hours_saved_confirmed=f.hours_saved_confirmed,
                to_departments=targets,
                to_department_names=[name(d) for d in targets],
            )
        )
    out.sort(key=lambda s: (-s.adoption_rate, -s.adopted, s.spec_id))
    return out


def _people(this_week: pd.DataFrame, week: str, name: Any) -> list[PersonRow]:
    known = this_week[this_week["owner"].notna()]
    return [
        PersonRow(
            week=week,
            department=str(dept),
            department_name=name(dept),
            owner=str(owner),
            **_figs(g),
        )
        for (dept, owner), g in known.groupby(["department", "owner"])
    ]


def report_versions_frame(report: KpiReport) -> pd.DataFrame:
    """The week x department x spec x version table, as for `teichaku kpi --csv`."""
    return pd.DataFrame(
        [r.model_dump() for r in report.versions], columns=list(VersionRow.model_fields)
    ).astype({"spec_version": "Int64"})  # a missing version must not turn 2 into 2.0 in the CSV
