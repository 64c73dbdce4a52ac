"""KPIs from the store: the counting rule, all-time totals, and the weekly report behind
`teichaku kpi` and the digest e-mail (computed with pandas), one builder per report section.

The counting rule (what one document adds to every figure) is `count_document`, plain Python
over store rows; the pandas frame and the catalogue (`kpi.catalog.load_kpis`, which must not pay
for pandas) both count with it.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from core.store import Document, Feedback, Store

if TYPE_CHECKING:
    import pandas as pd

K = TypeVar("K", bound=Hashable)

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


# --- the counting rule -------------------------------------------------------------------
#
# Time-saved model: a draft's *estimated* saving is its spec's baseline minus review minutes,
# recorded when it was made. Feedback *confirms* it: adopted -> baseline minus the minutes the
# person said they actually spent (or the estimate when they gave none), rejected -> zero.
# A verdict counts only on a document that was drafted.


@dataclass(frozen=True)
class Counted:
    """What one document adds to every KPI."""

    status: str
    minutes_est: float  # the estimate of a drafted document; 0 for anything else
    verdict: str | None  # adopted | rejected, on a drafted document only
    minutes_confirmed: float
    # What people did with the draft (tasks/feedback.py): how much of an adopted draft was kept,
    # the size of the edit, why a rejected one was not used, and whether it was adopted as it
    # came without minutes reported (無修正での採用: a prompt for the review duty, not blame).
    retention: float | None = None
    edit_chars: int | None = None
    reason: str | None = None
    untouched: bool = False

    @property
    def drafted(self) -> bool:
        return self.status == "drafted"

    @property
    def quarantined(self) -> bool:
        return self.status == "quarantined"

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    @property
    def adopted(self) -> bool:
        return self.verdict == "adopted"

    @property
    def rejected(self) -> bool:
        return self.verdict == "rejected"


def count_document(doc: Document, feedback: Feedback | None) -> Counted:
    """The counting rule: what `doc` (with its verdict, if any) adds to the figures."""
    drafted = doc.status == "drafted"
    est = doc.minutes_saved_est if drafted else 0.0
    verdict = feedback.verdict if feedback is not None and drafted else None
    confirmed = 0.0
    if verdict == "adopted":
        spent = feedback.minutes_spent if feedback else None
        baseline = feedback.baseline_minutes if feedback else None
        confirmed = (
            max(baseline - spent, 0.0) if spent is not None and baseline is not None else est
        )
    retention = feedback.retention if feedback is not None and verdict == "adopted" else None
    edit_chars = feedback.edit_chars if feedback is not None and verdict == "adopted" else None
    reason = feedback.reason if feedback is not None and verdict == "rejected" else None
    untouched = edit_chars == 0 and feedback is not None and feedback.minutes_spent is None
    return Counted(
        doc.status, est, verdict, float(confirmed), retention, edit_chars, reason, untouched
    )


def counted_documents(store: Store) -> list[tuple[Document, Feedback | None, Counted]]:
    """Every stored document with its verdict and what it counts for, in id order."""
    feedback = {f.document_id: f for f in store.feedback()}
    out = []
    for d in store.documents():
        f = feedback.get(d.id)
        out.append((d, f, count_document(d, f)))
    return out


@dataclass
class Tally:
    """Counted documents summed up (the catalogue's figures per spec and per spec version)."""

    documents: int = 0
    drafted: int = 0
    quarantined: int = 0
    adopted: int = 0
    rejected: int = 0
    minutes_est: float = 0.0
    retentions: list[float] = field(default_factory=list)
    untouched: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, c: Counted) -> None:
        self.documents += 1
        self.drafted += c.drafted
        self.quarantined += c.quarantined
        self.adopted += c.adopted
        self.rejected += c.rejected
        self.minutes_est += c.minutes_est
        if c.retention is not None:
            self.retentions.append(c.retention)
        self.untouched += c.untouched
        if c.reason:
            self.reasons[c.reason] = self.reasons.get(c.reason, 0) + 1

    @property
    def retention_median(self) -> float | None:
        return round(statistics.median(self.retentions), 3) if self.retentions else None

    def top_reasons(self, n: int = 3) -> list[tuple[str, int]]:
        """The most given rejection reasons, most first (ties by name)."""
        return sorted(self.reasons.items(), key=lambda t: (-t[1], t[0]))[:n]


def tally(
    counted: Iterable[tuple[Document, Feedback | None, Counted]], key: Callable[[Document], K]
) -> dict[K, Tally]:
    """Counted documents summed per `key(document)`."""
    out: dict[K, Tally] = {}
    for d, _, c in counted:
        out.setdefault(key(d), Tally()).add(c)
    return out


def summarise_totals(frame: pd.DataFrame) -> pd.DataFrame:
    """All-time totals by department and spec from `kpi_frame`: outcomes, minutes, model usage."""
    import pandas as pd  # ~0.3 s to import; the catalogue uses the counting rule above without it

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


def previous_week(timezone: str) -> str:
    """The last complete ISO week: what a Monday-morning run reports on."""
    return week_label(parse_week(current_week(timezone)) - timedelta(days=7))


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
    retention_median: float | None = Field(
        None, description="Median share of an adopted draft kept in the version used (0..1)"
    )
    edit_chars_median: int | None = Field(
        None, description="Median size of the edit of an adopted draft (characters removed + added)"
    )
    untouched_adoptions: int = Field(
        0, description="無修正での採用: adopted without any edit and without minutes reported"
    )


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


class ReasonRow(BaseModel):
    """How often one rejection reason was given for one spec version's drafts in the week."""

    week: str
    department: str
    department_name: str
    spec_id: str
    spec_title: str
    spec_version: int
    reason: str
    count: int


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
    ranking_order: str = Field(
        "確定削減時間の多い順、同じなら下書き件数の多い順", description="What the ranking ranks by"
    )
    success_cases: list[SuccessCase]
    suggestions: list[RolloutSuggestion]
    people: list[PersonRow] | None = None
    totals: list[TotalRow] = Field(
        default_factory=list, description="All time, by department and spec"
    )
    reasons: list[ReasonRow] = Field(
        default_factory=list,
        description="Rejection reasons of the week per spec and version, most given first",
    )


_FRAME_COLUMNS = [
    "id", "department", "spec_id", "spec_version", "status", "owner", "created_at", "minutes_est",
    "minutes_confirmed", "draft_md", "draft_name", "verdict", "minutes_spent", "feedback_path",
    "tokens", "cost", "duplicates", "calls", "prompt_tokens", "completion_tokens",
    "retention", "edit_chars", "reason", "untouched", "quarantine_reason",
]  # fmt: skip


def _usage(store: Store, options: KpiOptions) -> dict[int, dict[str, float]]:
    """Per document: model calls, prompt and completion tokens, all tokens, estimated cost."""
    out: dict[int, dict[str, float]] = {}
    for c in store.model_calls():
        u = out.setdefault(
            c.document_id,
            {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "tokens": 0, "cost": 0.0},
        )
        n = c.prompt_tokens + c.completion_tokens
        u["calls"] += 1
        u["prompt_tokens"] += c.prompt_tokens
        u["completion_tokens"] += c.completion_tokens
        u["tokens"] += n
        # The offline engine runs on this machine: its "tokens" cost nothing.
        price = 0.0 if c.engine == "offline" else options.cost_per_1k_tokens
        u["cost"] += n / 1000 * price
    return out


_NO_USAGE = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "tokens": 0, "cost": 0.0}


def _frame_row(
    d: Document, f: Feedback | None, c: Counted, usage: dict[str, float]
) -> dict[str, Any]:
    return {
        "id": d.id,
        "department": d.department,
        "spec_id": d.spec_id,
        "spec_version": d.spec_version,
        "status": d.status,
        "owner": d.owner,
        "created_at": d.created_at,
        "minutes_est": c.minutes_est,
        "minutes_confirmed": c.minutes_confirmed,
        "draft_md": d.draft_md,
        "draft_name": Path(d.draft_docx or d.draft_md or d.name).name,
        "verdict": c.verdict,
        "minutes_spent": f.minutes_spent if f else None,
        "feedback_path": f.path if f else None,
        "duplicates": d.duplicates,
        **{k: int(v) if k != "cost" else v for k, v in usage.items()},
        "retention": c.retention,
        "edit_chars": c.edit_chars,
        "reason": c.reason,
        "untouched": c.untouched,
        # Why the file was set aside (the monthly report's quarantine section), from the same read;
        # "" rather than None on a quarantined row: pandas' string column turns None into NaN.
        "quarantine_reason": (d.reason or "") if d.status == "quarantined" else None,
    }


def kpi_frame(store: Store, options: KpiOptions) -> pd.DataFrame:
    """One row per document with its feedback, tokens and cost, and its local date, week and month."""
    import pandas as pd  # ~0.3 s to import; the catalogue uses the counting rule above without it

    usage = _usage(store, options)
    rows = [_frame_row(d, f, c, usage.get(d.id, _NO_USAGE)) for d, f, c in counted_documents(store)]
    df = pd.DataFrame(rows, columns=_FRAME_COLUMNS)
    local = pd.to_datetime(df["created_at"]).dt.tz_localize("UTC").dt.tz_convert(options.timezone)
    df["day"] = [ts.date() for ts in local]
    df["week"] = [week_label(d) for d in df["day"]]
    df["month"] = [f"{d.year}-{d.month:02d}" for d in df["day"]]
    df["drafted"] = df["status"] == "drafted"
    df["adopted"] = df["verdict"] == "adopted"
    df["rejected"] = df["verdict"] == "rejected"
    return df


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
        **_kept(df),
    )


def _kept(df: pd.DataFrame) -> dict[str, Any]:
    """Median retention and edit of the adopted drafts, and how many were adopted untouched."""
    kept = df["retention"].dropna() if "retention" in df else []
    edits = df["edit_chars"].dropna() if "edit_chars" in df else []
    return {
        "retention_median": round(float(statistics.median(kept)), 3) if len(kept) else None,
        "edit_chars_median": int(statistics.median(edits)) if len(edits) else None,
        "untouched_adoptions": int(df["untouched"].sum()) if "untouched" in df else 0,
    }


def _figs(df: pd.DataFrame) -> dict[str, Any]:
    return _figures(df).model_dump()


@dataclass(frozen=True)
class _Week:
    """What every section of one week's report is built from."""

    week: str
    start: date
    end: date
    month: str  # the ISO convention: a week belongs to its Thursday's month
    options: KpiOptions
    df: pd.DataFrame  # every document
    upto: pd.DataFrame  # documents that arrived by the week's end
    this_week: pd.DataFrame
    specs: dict[str, SpecInfo]
    department_names: dict[str, str]
    departments: list[str]  # every department known from the specs or the store
    spec_ids: list[str]
    spec_department: dict[str, str]

    def name(self, dept: str) -> str:
        return self.department_names.get(dept, dept)

    def title(self, spec_id: str) -> str:
        return self.specs[spec_id].title if spec_id in self.specs else spec_id

    def trend_weeks(self) -> list[str]:
        n = self.options.trend_weeks
        return [week_label(self.start - timedelta(weeks=i)) for i in reversed(range(n))]


def _week(df: pd.DataFrame, week: str, options: KpiOptions, specs: dict[str, SpecInfo]) -> _Week:
    start = parse_week(week)
    end = start + timedelta(days=6)
    thursday = start + timedelta(days=3)
    names = {s.department: s.department_name for s in specs.values()}
    spec_department = {sid: s.department for sid, s in specs.items()}
    for r in df.itertuples(index=False):
        spec_department.setdefault(r.spec_id, r.department)
    return _Week(
        week=week,
        start=start,
        end=end,
        month=f"{thursday.year}-{thursday.month:02d}",
        options=options,
        df=df,
        upto=df[df["day"] <= end] if not df.empty else df,
        this_week=df[df["week"] == week],
        specs=specs,
        department_names=names,
        departments=sorted(set(names) | set(df["department"])),
        spec_ids=sorted(set(specs) | set(df["spec_id"])),
        spec_department=spec_department,
    )


def compute_report(
    store: Store, *, week: str, options: KpiOptions, specs: dict[str, SpecInfo] | None = None
) -> KpiReport:
    """Every KPI the digest and `teichaku kpi` show, for one ISO week."""
    w = _week(kpi_frame(store, options), week, options, specs or {})
    return KpiReport(
        week=week,
        week_start=w.start,
        week_end=w.end,
        month=w.month,
        timezone=options.timezone,
        generated_at=datetime.now(ZoneInfo(options.timezone)).replace(microsecond=0),
        currency=options.currency,
        cost_per_1k_tokens=options.cost_per_1k_tokens,
        rollout_min_adopted=options.rollout_min_adopted,
        rollout_min_adoption_rate=options.rollout_min_adoption_rate,
        headline=_figures(w.this_week),
        departments=_department_rows(w),
        rows=_spec_rows(w),
        versions=_version_rows(w),
        totals=[TotalRow(**r) for r in summarise_totals(w.df).to_dict("records")],
        trend=_trend(w),
        ranking=_ranking(w),
        success_cases=_success_cases(w),
        suggestions=_suggestions(w),
        people=_people(w) if options.per_person else None,
        reasons=_reasons(w),
    )


def reason_rows(
    df: pd.DataFrame, label: str, name: Callable[[str], str], title: Callable[[str], str]
) -> list[ReasonRow]:
    """Rejection reasons per spec and version in `df`, most given first (`label`: the period)."""
    given = df[df["reason"].notna()] if not df.empty else df
    rows = [
        ReasonRow(
            week=label,
            department=str(dept),
            department_name=name(str(dept)),
            spec_id=str(sid),
            spec_title=title(str(sid)),
            spec_version=int(version),
            reason=str(reason),
            count=len(g),
        )
        for (dept, sid, version, reason), g in given.groupby(
            ["department", "spec_id", "spec_version", "reason"]
        )
    ]
    return sorted(rows, key=lambda r: (r.department, r.spec_id, r.spec_version, -r.count, r.reason))


def _reasons(w: _Week) -> list[ReasonRow]:
    return reason_rows(w.this_week, w.week, w.name, w.title)


def _spec_rows(w: _Week) -> list[KpiRow]:
    """One row per spec (every known spec, zeros when unused this week)."""
    tw = w.this_week
    rows = [
        KpiRow(
            week=w.week,
            department=w.spec_department[sid],
            department_name=w.name(w.spec_department[sid]),
            spec_id=sid,
            spec_title=w.title(sid),
            **_figs(tw[tw["spec_id"] == sid]),
        )
        for sid in w.spec_ids
    ]
    return sorted(rows, key=lambda r: (r.department, r.spec_id))


def _version_rows(w: _Week) -> list[VersionRow]:
    """The spec rows split by spec version, so v3's adoption can be read next to v2's."""
    tw = w.this_week
    rows = [
        VersionRow(
            week=w.week,
            department=w.spec_department[sid],
            department_name=w.name(w.spec_department[sid]),
            spec_id=sid,
            spec_title=w.title(sid),
            spec_version=version,
            **_figs(g),
        )
        for sid in w.spec_ids
        for version, g in _by_version(tw[tw["spec_id"] == sid])
    ]
    return sorted(rows, key=lambda r: (r.department, r.spec_id, r.spec_version or 0))


def _department_rows(w: _Week) -> list[DepartmentRow]:
    tw = w.this_week
    return [
        DepartmentRow(
            week=w.week,
            department=d,
            department_name=w.name(d),
            **_figs(tw[tw["department"] == d]),
        )
        for d in w.departments
    ]


def _trend(w: _Week) -> list[TrendPoint]:
    """The last `trend_weeks` weeks, ending with the report's week."""
    df = w.df
    return [
        TrendPoint(week=x, week_start=parse_week(x), **_figs(df[df["week"] == x]))
        for x in w.trend_weeks()
    ]


def _ranking(w: _Week) -> list[RankingRow]:
    """月間活用ランキング: departments by what the month's drafts really saved (confirmed hours),
    then by use (drafts), up to the week's end; ties share a rank. RANKING_ORDER says so."""
    in_month = w.upto[w.upto["month"] == w.month]
    ranked = sorted(
        ((d, _figures(in_month[in_month["department"] == d])) for d in w.departments),
        key=lambda t: (
            -t[1].hours_saved_confirmed,
            -t[1].drafts,
            -t[1].adopted,
            -t[1].hours_saved_est,
            t[0],
        ),
    )
    ranking: list[RankingRow] = []
    for i, (d, f) in enumerate(ranked):
        prev = ranking[-1] if ranking else None
        same = prev is not None and (prev.hours_saved_confirmed, prev.drafts, prev.adopted, prev.hours_saved_est) == (
            f.hours_saved_confirmed, f.drafts, f.adopted, f.hours_saved_est)  # fmt: skip
        ranking.append(
            RankingRow(
                rank=prev.rank if same and prev else i + 1,
                department=d,
                department_name=w.name(d),
                **f.model_dump(),
            )
        )
    return ranking


def _by_version(spec_week: pd.DataFrame) -> list[tuple[int | None, pd.DataFrame]]:
    """One spec's documents of the week per spec version; a spec unused this week still gets one
    (all-zero) row, as in `rows`, so every spec stays visible in the version table."""
    if spec_week.empty:
        return [(None, spec_week)]
    return [(int(v), g) for v, g in spec_week.groupby("spec_version", sort=True)]


def _missing(x: Any) -> bool:
    """None, or the NaN pandas puts in a float column for it."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def _success_cases(w: _Week) -> list[SuccessCase]:
    """The largest confirmed savings in the trend window, with an excerpt of the draft."""
    window = w.upto[w.upto["week"].isin(w.trend_weeks())]
    adopted = window[window["adopted"]].sort_values(
        ["minutes_confirmed", "created_at"], ascending=[False, False]
    )
    out = []
    for r in adopted.head(w.options.success_cases).itertuples(index=False):
        out.append(
            SuccessCase(
                department=r.department,
                department_name=w.name(r.department),
                spec_id=r.spec_id,
                spec_title=w.title(r.spec_id),
                week=r.week,
                draft_name=r.draft_name,
                minutes_saved_confirmed=round(float(r.minutes_confirmed), 1),
                minutes_spent=None if _missing(r.minutes_spent) else float(r.minutes_spent),
                excerpt=draft_excerpt(_md_candidates(r)) if w.options.excerpts else None,
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


def _suggestions(w: _Week) -> list[RolloutSuggestion]:
    """横展開: a use case (the document part of a spec id, e.g. meeting_minutes) that earned its
    keep in one department and that another department has not tried at all."""
    upto, options = w.upto, w.options
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
        targets = [d for d in w.departments if d not in tried.get(uc, set())]
        if not targets:
            continue
        out.append(
            RolloutSuggestion(
                spec_id=str(spec_id),
                spec_title=w.title(str(spec_id)),
                use_case=uc,
                from_department=str(dept),
                from_department_name=w.name(str(dept)),
                adopted=f.adopted,
                adoption_rate=f.adoption_rate or 0.0,
                hours_saved_confirmed=f.hours_saved_confirmed,
                to_departments=targets,
                to_department_names=[w.name(d) for d in targets],
            )
        )
    out.sort(key=lambda s: (-s.adoption_rate, -s.adopted, s.spec_id))
    return out


def _people(w: _Week) -> list[PersonRow]:
    """Per file owner (only with digest.per_person_metrics)."""
    known = w.this_week[w.this_week["owner"].notna()]
    return [
        PersonRow(
            week=w.week,
            department=str(dept),
            department_name=w.name(str(dept)),
            owner=str(owner),
            **_figs(g),
        )
        for (dept, owner), g in known.groupby(["department", "owner"])
    ]


def report_versions_frame(report: KpiReport) -> pd.DataFrame:
    """The week x department x spec x version table, as for `teichaku kpi --csv`."""
    import pandas as pd  # ~0.3 s to import; the catalogue uses the counting rule above without it

    return pd.DataFrame(
        [r.model_dump() for r in report.versions], columns=list(VersionRow.model_fields)
    ).astype({"spec_version": "Int64"})  # a missing version must not turn 2 into 2.0 in the CSV
