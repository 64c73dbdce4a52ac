"""`teichaku kpi`: the weekly KPI report (the figures behind the digest e-mail)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from teichaku.app import WorkspaceOpt, app, console, fail, settings_for, specs_for

if TYPE_CHECKING:
    from core.settings import Settings
    from kpi.metrics import KpiReport

WeekOpt = Annotated[
    str | None,
    typer.Option("--week", help="ISO week YYYY-Www, e.g. 2026-W48 (default: the current week)."),
]


def resolve_week(settings: Settings, week: str | None) -> str:
    """The week asked for (default: the current one), or exit 2 naming what is wrong with it."""
    from kpi.metrics import current_week, parse_week  # SQLAlchemy: ~0.3 s, not for --help

    week = week or current_week(settings.digest.timezone)
    try:
        parse_week(week)
    except ValueError as e:
        fail(str(e))
    return week


@app.command()
def kpi(
    workspace: WorkspaceOpt = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="The whole report as JSON.")] = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="The week x department x spec x version table as CSV.")
    ] = False,
    week: WeekOpt = None,
) -> None:
    """Time saved (estimated and confirmed), adoption, active people and cost per department, spec and spec version."""
    if as_json and as_csv:
        fail("--json と --csv は同時に指定できません。")
    from flows.digest import week_report  # SQLAlchemy, jinja2, mailer: ~0.6 s; not for --help

    settings = settings_for(workspace.expanduser().resolve())
    week = resolve_week(settings, week)
    report = week_report(settings, specs_for(settings.workspace), week)
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return
    if as_csv:
        from kpi.metrics import report_versions_frame  # SQLAlchemy: ~0.3 s, not for --help

        report_versions_frame(report).to_csv(sys.stdout, index=False, lineterminator="\n")
        return
    _print_report(report)


def _print_report(report: KpiReport) -> None:
    _print_totals(report)

    # kpi.digest (jinja2, SQLAlchemy): ~0.45 s, not for --help; loaded by week_report already.
    from kpi.digest import OUTCOME_COLUMNS, hours, outcome_cells, rate, week_title

    h = report.headline
    console.print(f"[bold]{week_title(report)}[/]  ({report.week})")
    console.print(
        f"削減時間: 推定 {hours(h.hours_saved_est)} 時間 / 確定 {hours(h.hours_saved_confirmed)} 時間  ·  "
        f"下書き {h.drafts} 件 / 採用 {h.adopted} 件 / 不採用 {h.rejected} 件 / 採用率 {rate(h.adoption_rate)}  ·  "
        f"利用者 {h.active_people} 人  ·  トークン {h.tokens:,} / 推定コスト {h.cost_est:.1f}{report.currency}"
    )
    t = Table(title="部署・仕様・版別 / by department, spec and version")
    for col in (
        "部署",
        "仕様",
        "版",
        "受付",
        *OUTCOME_COLUMNS,
        "利用者",
        "トークン",
    ):
        t.add_column(col, justify="left" if col in ("部署", "仕様") else "right")
    # Per version, so a new prompt version's adoption can be read next to the old one's.
    for r in report.versions:
        t.add_row(
            r.department_name,
            r.spec_id,
            "—" if r.spec_version is None else f"v{r.spec_version}",
            str(r.documents),
            *outcome_cells(r),
            str(r.active_people),
            f"{r.tokens:,}",
        )
    console.print(t)
    _print_ranking(report)
    console.print(
        "推定 = 仕様の基準時間 - 確認時間（全下書き）。確定 = 採用の報告があった下書きのみ。"
    )


def _print_ranking(report: KpiReport) -> None:
    from kpi.digest import hours, month_title  # kpi.digest: ~0.45 s, not for --help

    t = Table(
        title=f"月間活用ランキング（{month_title(report)}）/ monthly ranking",
        caption=f"順位: {report.ranking_order}",
    )
    for col in ("順位", "部署", "確定(時間)", "下書き", "採用", "推定(時間)"):
        t.add_column(col, justify="left" if col == "部署" else "right")
    for r in report.ranking:
        t.add_row(
            f"{r.rank}位",
            r.department_name,
            hours(r.hours_saved_confirmed),
            str(r.drafts),
            str(r.adopted),
            hours(r.hours_saved_est),
        )
    console.print(t)


def _print_totals(report: KpiReport) -> None:
    t = Table(title="累計（全期間）/ all-time totals by department and spec")
    for col in (
        "部署",
        "仕様",
        "受付",
        "下書き",
        "隔離",
        "保留",
        "重複",
        "推定削減(分)",
        "AI呼び出し",
    ):
        t.add_column(col, justify="left" if col in ("部署", "仕様") else "right")
    for r in report.totals:
        t.add_row(
            r.department,
            r.spec_id,
            str(r.documents),
            str(r.drafted),
            str(r.quarantined),
            str(r.pending),
            str(r.duplicates),
            f"{r.minutes_saved_est:.0f}",
            str(r.model_calls),
        )
    console.print(t)
