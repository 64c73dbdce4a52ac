"""The weekly digest e-mail: one KPI report rendered as plain text, HTML and Markdown.

Managers read it in Outlook and Gmail, so the HTML is table-based with inline styles only, and
the chart is made of table cells with `bgcolor` + `width`, not an image: both clients render
such bars without downloading anything, image blocking cannot hide them, no font has to be
installed on the server (the reader's client draws the Japanese text), and the plain-text part
carries the same chart drawn with block characters.

Every figure shown comes from `kpi.metrics.KpiReport` unchanged (the same object behind
`teichaku kpi --json`); this module only formats.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape
from typing import Any

from kpi.catalog import index_url, spec_page_url
from kpi.metrics import Figures, KpiReport

EST_COLOR = "#2563eb"  # estimated (推定)
CONF_COLOR = "#059669"  # confirmed (確定)
TRACK_COLOR = "#e5e7eb"
FONT = "'Meiryo','Yu Gothic','Hiragino Sans','Noto Sans CJK JP',sans-serif"
CATALOG_LINK = "プロンプト集（部署別の使い方）"
HOWTO_LINK = "使い方・例を見る"

EST_NOTE = "推定＝各仕様の基準時間（手作業の所要時間）から確認時間を引いた値を、作成された下書きすべてに当てはめたもの。"
CONF_NOTE = (
    "確定＝「採用」と報告された下書きのみ（実際にかかった時間の報告があれば基準時間からその時間を引いた値、"
    "なければ推定値）。「不採用」は 0 分。"
)


@dataclass(frozen=True)
class DigestMail:
    week: str
    subject: str
    text: str
    html: str
    markdown: str


# What became of a group's drafts, in this order wherever a table shows them (mail, artifact,
# `teichaku kpi`); `outcome_cells` formats a row's figures to match.
OUTCOME_COLUMNS = ("下書き", "採用", "不採用", "採用率", "推定(時間)", "確定(時間)")
# The per-department table's columns, shared by the HTML mail and the Prefect Markdown artifact.
DEPARTMENT_COLUMNS = ("部署", "受付", *OUTCOME_COLUMNS, "利用者")


# -- number formats (one place, so every part shows the same figure) ------------------------


def hours(x: float) -> str:
    return f"{x:.1f}"


def rate(r: float | None) -> str:
    return "—" if r is None else f"{round(r * 100)}%"


def outcome_cells(r: Any) -> list[str]:
    """A department, spec or version row's figures under OUTCOME_COLUMNS."""
    return [
        str(r.drafts),
        str(r.adopted),
        str(r.rejected),
        rate(r.adoption_rate),
        hours(r.hours_saved_est),
        hours(r.hours_saved_confirmed),
    ]


def week_title(report: KpiReport) -> str:
    y, w = report.week.split("-W")
    s, e = report.week_start, report.week_end
    return f"{y}年第{int(w)}週（{s.month}/{s.day}〜{e.month}/{e.day}）"


def month_title(report: KpiReport) -> str:
    y, m = report.month.split("-")
    return f"{y}年{int(m)}月"


def build_subject(report: KpiReport) -> str:
    h = report.headline
    return (
        f"【teichaku 週次レポート】{week_title(report)} 削減時間 推定{hours(h.hours_saved_est)}時間・"
        f"確定{hours(h.hours_saved_confirmed)}時間／下書き{h.drafts}件・採用{h.adopted}件"
    )


def figures_line(f: Figures, currency: str | None = None) -> str:
    """The figures of one department (or the whole week) on one line of the text part."""
    line = (
        f"受付 {f.documents} 件 / 下書き {f.drafts} 件 / 採用 {f.adopted} 件 / 不採用 {f.rejected} 件 / "
        f"採用率 {rate(f.adoption_rate)} / 削減 推定 {hours(f.hours_saved_est)} 時間・確定 "
        f"{hours(f.hours_saved_confirmed)} 時間 / 利用者 {f.active_people} 人"
    )
    if currency is not None:
        line += f" / トークン {f.tokens:,} / 推定コスト {f.cost_est:.1f}{currency}"
    return line


def _text_bar(value: float, top: float, width: int = 24) -> str:
    n = round(width * value / top) if top > 0 else 0
    return "█" * n + "·" * (width - n)


def _rollout_rule(report: KpiReport) -> str:
    return f"採用 {report.rollout_min_adopted} 件以上・採用率 {rate(report.rollout_min_adoption_rate)} 以上"


# -- plain text -------------------------------------------------------------------------------


def render_text(report: KpiReport, catalog_url: str | None = None) -> str:
    h = report.headline
    out = [
        f"teichaku 週次レポート {week_title(report)}",
        "",
        "■ 今週の成果",
        f"  削減時間（推定）: {hours(h.hours_saved_est)} 時間",
        f"  削減時間（確定）: {hours(h.hours_saved_confirmed)} 時間",
        f"  下書き: {h.drafts} 件（受付 {h.documents} 件） / 採用 {h.adopted} 件 / 不採用 {h.rejected} 件 / 採用率 {rate(h.adoption_rate)}",
        f"  利用者: {h.active_people} 人 / トークン: {h.tokens:,} / 推定コスト: {h.cost_est:.1f}{report.currency}",
        "",
        "■ 部署別",
    ]
    out += [
        f"  {d.department_name}: {figures_line(d, report.currency)}" for d in report.departments
    ]
    out += ["", "  仕様別:"]
    out += [f"   - {r.department_name} {r.spec_title}: {figures_line(r)}" for r in report.rows]
    top = max((p.hours_saved_est for p in report.trend), default=0.0)
    out += ["", f"■ 推移（直近{len(report.trend)}週・削減時間）  █ 推定"]
    out += [
        f"  {p.week} {_text_bar(p.hours_saved_est, top)} 推定 {hours(p.hours_saved_est)} 時間 / "
        f"確定 {hours(p.hours_saved_confirmed)} 時間 / 下書き {p.drafts} 件"
        for p in report.trend
    ]
    out += ["", "■ 成功事例"]
    if report.success_cases:
        for c in report.success_cases:
            spent = f"（実作業 {c.minutes_spent:.0f} 分）" if c.minutes_spent is not None else ""
            out.append(
                f"  ・{c.department_name}「{c.spec_title}」: 確定 {c.minutes_saved_confirmed:.0f} 分の削減{spent}"
            )
            if c.excerpt:
                out.append(f"    {c.excerpt}")
    else:
        out.append(
            "  まだ採用の報告がありません。下書きを「採用」フォルダに移すと、ここに載ります。"
        )
    out += ["", f"■ 次に試すこと（横展開のおすすめ / 条件: {_rollout_rule(report)}）"]
    if report.suggestions:
        for s in report.suggestions:
            out.append(
                f"  ・{s.from_department_name}の「{s.spec_title}」は採用 {s.adopted} 件・採用率 {rate(s.adoption_rate)}。"
                f"まだ使っていない部署: {'、'.join(s.to_department_names)}"
            )
            if catalog_url:
                out.append(f"    {HOWTO_LINK}: {spec_page_url(catalog_url, s.spec_id)}")
    else:
        out.append("  条件を満たす仕様はまだありません。")
    if catalog_url:
        out.append(f"  {CATALOG_LINK}: {index_url(catalog_url)}")
    out += [
        "",
        f"■ 月間活用ランキング（{month_title(report)}、{report.week_end.month}/{report.week_end.day} まで）",
    ]
    out += [
        f"  {r.rank}位 {r.department_name}: 下書き {r.drafts} 件 / 採用 {r.adopted} 件 / "
        f"確定 {hours(r.hours_saved_confirmed)} 時間 / 推定 {hours(r.hours_saved_est)} 時間"
        for r in report.ranking
    ]
    if report.people is not None:
        out += ["", "■ 担当者別（設定で有効）"]
        out += [f"  {p.department_name} {p.owner}: {figures_line(p)}" for p in report.people]
    out += ["", "※ " + EST_NOTE, "※ " + CONF_NOTE, *_footer(report)]
    return "\n".join(out) + "\n"


def _footer(report: KpiReport) -> list[str]:
    return [
        f"※ 推定コストは 1,000 トークンあたり {report.cost_per_1k_tokens}{report.currency} で計算（オフラインエンジンは 0）。",
        f"※ 集計: {report.generated_at:%Y-%m-%d %H:%M}（{report.timezone}）。このメールは teichaku が自動送信しています。",
    ]


# -- HTML ---------------------------------------------------------------------------------------

_TD = "padding:6px 8px;border-bottom:1px solid #e5e7eb;font-size:13px;"
_TH = (
    "padding:6px 8px;border-bottom:2px solid #9ca3af;font-size:12px;color:#374151;text-align:left;"
)


def _bar(value: float, top: float, color: str, label: str) -> str:
    """A horizontal bar as two table cells: renders in Outlook's Word engine and in Gmail."""
    pct = max(1, round(100 * value / top)) if top > 0 and value > 0 else 0
    filled = (
        f'<td width="{pct}%" bgcolor="{color}" style="background-color:{color};height:12px;'
        f'font-size:0;line-height:0;" data-bar="{escape(label)}">&nbsp;</td>'
        if pct
        else ""
    )
    rest = (
        f'<td width="{100 - pct}%" bgcolor="{TRACK_COLOR}" style="background-color:{TRACK_COLOR};'
        f'height:12px;font-size:0;line-height:0;">&nbsp;</td>'
        if pct < 100
        else ""
    )
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="border-collapse:collapse;"><tr>{filled}{rest}</tr></table>'
    )


def _section(key: str, title: str, body: str) -> str:
    return (
        f'<tr><td data-section="{key}" style="padding:18px 24px 6px 24px;">'
        f'<h2 style="margin:0 0 10px 0;font-size:17px;color:#111827;border-left:4px solid {EST_COLOR};'
        f'padding-left:8px;">{escape(title)}</h2>{body}</td></tr>'
    )


def _table(headers: list[str], rows: list[list[str]], key: str, text_columns: int = 1) -> str:
    """A data table; the first `text_columns` columns are left-aligned, numbers right-aligned."""
    head = "".join(
        f'<th style="{_TH}{"text-align:right;" if i >= text_columns else ""}">{escape(h)}</th>'
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="{_TD}{"text-align:right;" if i >= text_columns else ""}">{c}</td>'
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return (
        f'<table role="presentation" data-table="{key}" width="100%" cellpadding="0" cellspacing="0" '
        f'border="0" style="border-collapse:collapse;"><tr>{head}</tr>{body}</table>'
    )


def _tile(label: str, value: str, unit: str, color: str, key: str) -> str:
    return (
        f'<td width="25%" valign="top" style="padding:8px;border:1px solid #e5e7eb;" data-figure="{key}">'
        f'<div style="font-size:12px;color:#4b5563;">{escape(label)}</div>'
        f'<div style="font-size:24px;font-weight:bold;color:{color};">{escape(value)}'
        f'<span style="font-size:13px;color:#374151;font-weight:normal;"> {escape(unit)}</span></div></td>'
    )


def _link(url: str, label: str) -> str:
    return f'<a href="{escape(url)}" style="color:{EST_COLOR};">{escape(label)}</a>'


def render_html(report: KpiReport, catalog_url: str | None = None) -> str:
    h = report.headline
    e = escape
    tiles = (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'style="border-collapse:collapse;"><tr>'
        + _tile("削減時間（推定）", hours(h.hours_saved_est), "時間", EST_COLOR, "hours_saved_est")
        + _tile(
            "削減時間（確定）",
            hours(h.hours_saved_confirmed),
            "時間",
            CONF_COLOR,
            "hours_saved_confirmed",
        )
        + _tile("下書き / 採用", f"{h.drafts} / {h.adopted}", "件", "#111827", "drafts_adopted")
        + _tile(
            "採用率 / 利用者",
            f"{rate(h.adoption_rate)} / {h.active_people}",
            "人",
            "#111827",
            "rate_people",
        )
        + "</tr></table>"
        + f'<p style="font-size:12px;color:#4b5563;margin:8px 0 0 0;">受付 {h.documents} 件・不採用 {h.rejected} 件・'
        f"トークン {h.tokens:,}・推定コスト {h.cost_est:.1f}{e(report.currency)}</p>"
    )
    top_dept = max((d.hours_saved_est for d in report.departments), default=0.0)
    dept_rows = [
        [
            f"<b>{e(d.department_name)}</b>",
            str(d.documents),
            *outcome_cells(d),
            str(d.active_people),
            f"{d.cost_est:.1f}",
        ]
        for d in report.departments
    ]
    dept_bars = "".join(
        f'<tr><td width="22%" style="font-size:12px;padding:3px 6px 3px 0;">{e(d.department_name)}</td>'
        f'<td style="padding:3px 0;">{_bar(d.hours_saved_est, top_dept, EST_COLOR, d.department)}</td>'
        f'<td width="14%" style="font-size:12px;text-align:right;padding:3px 0 3px 6px;">{hours(d.hours_saved_est)} 時間</td></tr>'
        for d in report.departments
    )
    by_dept = (
        _table(
            [*DEPARTMENT_COLUMNS, f"コスト({report.currency})"],
            dept_rows,
            "departments",
        )
        + '<p style="font-size:12px;color:#4b5563;margin:12px 0 4px 0;">部署別の削減時間（推定）</p>'
        + f'<table role="presentation" data-chart="departments" width="100%" cellpadding="0" cellspacing="0" border="0">{dept_bars}</table>'
        + '<p style="font-size:12px;color:#4b5563;margin:12px 0 4px 0;">仕様別</p>'
        + _table(
            ["部署・仕様", *OUTCOME_COLUMNS],
            [
                [
                    f"{e(r.department_name)}<br><span style='color:#6b7280;font-size:12px;'>{e(r.spec_title)}</span>",
                    *outcome_cells(r),
                ]
                for r in report.rows
            ],
            "specs",
        )
    )
    top = max((max(p.hours_saved_est, p.hours_saved_confirmed) for p in report.trend), default=0.0)
    trend_rows = "".join(
        f'<tr><td width="18%" rowspan="2" style="font-size:12px;padding:4px 6px 4px 0;border-bottom:1px solid #f3f4f6;">'
        f'{e(p.week)}<br><span style="color:#6b7280;">{p.week_start.month}/{p.week_start.day}〜</span></td>'
        f'<td style="padding:3px 0 1px 0;">{_bar(p.hours_saved_est, top, EST_COLOR, "est-" + p.week)}</td>'
        f'<td width="16%" style="font-size:12px;text-align:right;padding:3px 0 1px 6px;">推定 {hours(p.hours_saved_est)}</td></tr>'
        f'<tr><td style="padding:1px 0 4px 0;border-bottom:1px solid #f3f4f6;">{_bar(p.hours_saved_confirmed, top, CONF_COLOR, "conf-" + p.week)}</td>'
        f'<td width="16%" style="font-size:12px;text-align:right;padding:1px 0 4px 6px;border-bottom:1px solid #f3f4f6;">確定 {hours(p.hours_saved_confirmed)}</td></tr>'
        for p in report.trend
    )
    legend = (
        f'<p style="font-size:12px;margin:0 0 6px 0;"><span style="color:{EST_COLOR};">■</span> 推定 '
        f'<span style="color:{CONF_COLOR};">■</span> 確定（単位: 時間）</p>'
    )
    trend = (
        legend
        + f'<table role="presentation" data-chart="trend" width="100%" cellpadding="0" cellspacing="0" border="0">{trend_rows}</table>'
    )
    if report.success_cases:
        cases = "".join(
            f'<div data-case="{e(c.spec_id)}" style="border:1px solid #d1fae5;background-color:#ecfdf5;padding:10px 12px;margin:0 0 8px 0;">'
            f'<div style="font-size:14px;"><b>{e(c.department_name)}</b>「{e(c.spec_title)}」：'
            f'<b style="color:{CONF_COLOR};">確定 {c.minutes_saved_confirmed:.0f} 分</b>の削減'
            + (f"（実作業 {c.minutes_spent:.0f} 分）" if c.minutes_spent is not None else "")
            + "</div>"
            + (
                f'<div style="font-size:12px;color:#374151;margin-top:4px;">{e(c.excerpt)}</div>'
                if c.excerpt
                else ""
            )
            + "</div>"
            for c in report.success_cases
        )
    else:
        cases = '<p style="font-size:13px;">まだ採用の報告がありません。下書きを「採用」フォルダに移すと、ここに載ります。</p>'
    if report.suggestions:
        tries = (
            "<ul style='margin:0;padding-left:20px;font-size:13px;'>"
            + "".join(
                f"<li style='margin-bottom:6px;'><b>{e(s.from_department_name)}</b>の「{e(s.spec_title)}」は"
                f"採用 {s.adopted} 件・採用率 {rate(s.adoption_rate)}。まだ使っていない部署："
                f"<b>{e('、'.join(s.to_department_names))}</b>"
                + (
                    f"（{_link(spec_page_url(catalog_url, s.spec_id), HOWTO_LINK)}）"
                    if catalog_url
                    else ""
                )
                + "</li>"
                for s in report.suggestions
            )
            + "</ul>"
        )
    else:
        tries = '<p style="font-size:13px;">条件を満たす仕様はまだありません。</p>'
    tries += f'<p style="font-size:12px;color:#6b7280;">条件: {e(_rollout_rule(report))}</p>'
    if catalog_url:
        tries += (
            f'<p data-link="catalog" style="font-size:13px;margin:8px 0 0 0;">'
            f"{_link(index_url(catalog_url), CATALOG_LINK)}</p>"
        )
    ranking = _table(
        ["順位", "部署", "下書き", "採用", "確定(時間)", "推定(時間)"],
        [
            [
                f"{r.rank}位",
                e(r.department_name),
                str(r.drafts),
                str(r.adopted),
                hours(r.hours_saved_confirmed),
                hours(r.hours_saved_est),
            ]
            for r in report.ranking
        ],
        "ranking",
        text_columns=2,
    )
    people = ""
    if report.people is not None:
        people = _section(
            "people",
            "担当者別",
            _table(
                ["部署", "担当者", "下書き", "採用", "確定(時間)"],
                [
                    [
                        e(p.department_name),
                        e(p.owner),
                        str(p.drafts),
                        str(p.adopted),
                        hours(p.hours_saved_confirmed),
                    ]
                    for p in report.people
                ],
                "people",
                text_columns=2,
            ),
        )
    notes = "".join(
        f'<p style="font-size:11px;color:#6b7280;margin:2px 0;">※ {e(n)}</p>'
        for n in (EST_NOTE, CONF_NOTE)
    )
    notes += "".join(
        f'<p style="font-size:11px;color:#6b7280;margin:2px 0;">{e(n)}</p>' for n in _footer(report)
    )
    body = (
        f'<tr><td style="background-color:#1e3a8a;color:#ffffff;padding:18px 24px;" bgcolor="#1e3a8a">'
        f'<div style="font-size:13px;">teichaku 週次レポート</div>'
        f'<div style="font-size:20px;font-weight:bold;">{e(week_title(report))}</div></td></tr>'
        + _section("headline", "今週の成果", tiles)
        + _section("departments", "部署別", by_dept)
        + _section("trend", f"推移（直近{len(report.trend)}週・削減時間）", trend)
        + _section("success", "成功事例", cases)
        + _section("next", "次に試すこと（横展開のおすすめ）", tries)
        + _section("ranking", f"月間活用ランキング（{month_title(report)}）", ranking)
        + people
        + f'<tr><td style="padding:16px 24px 24px 24px;">{notes}</td></tr>'
    )
    return (
        '<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(build_subject(report))}</title></head>"
        f'<body style="margin:0;padding:0;background-color:#f3f4f6;font-family:{FONT};color:#111827;">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" bgcolor="#f3f4f6"><tr><td align="center" style="padding:16px 8px;">'
        '<table role="presentation" width="680" cellpadding="0" cellspacing="0" border="0" bgcolor="#ffffff" '
        f'style="width:680px;max-width:100%;background-color:#ffffff;border-collapse:collapse;">{body}</table>'
        "</td></tr></table></body></html>\n"
    )


# -- Markdown (the Prefect artifact) -------------------------------------------------------------


def _md_row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def render_markdown(report: KpiReport, catalog_url: str | None = None) -> str:
    h = report.headline
    out = [
        f"# teichaku 週次レポート {week_title(report)}",
        "",
        f"- 削減時間: 推定 **{hours(h.hours_saved_est)} 時間** / 確定 **{hours(h.hours_saved_confirmed)} 時間**",
        f"- 下書き {h.drafts} 件（受付 {h.documents} 件）・採用 {h.adopted} 件・不採用 {h.rejected} 件・採用率 {rate(h.adoption_rate)}",
        f"- 利用者 {h.active_people} 人・トークン {h.tokens:,}・推定コスト {h.cost_est:.1f}{report.currency}",
        "",
        "## 部署別",
        "",
        _md_row(list(DEPARTMENT_COLUMNS)),
        _md_row(["---"] * len(DEPARTMENT_COLUMNS)),
    ]
    out += [
        _md_row([d.department_name, d.documents, *outcome_cells(d), d.active_people])
        for d in report.departments
    ]  # fmt: skip
    top = max((p.hours_saved_est for p in report.trend), default=0.0)
    out += ["", "## 推移", "", _md_row(["週", "推定", "", "確定", "下書き"]), _md_row(["---"] * 5)]
    out += [
        _md_row([p.week, f"`{_text_bar(p.hours_saved_est, top, 16)}`", hours(p.hours_saved_est),
                 hours(p.hours_saved_confirmed), p.drafts])
        for p in report.trend
    ]  # fmt: skip
    out += ["", "## 成功事例", ""]
    out += [
        f"- {c.department_name}「{c.spec_title}」確定 {c.minutes_saved_confirmed:.0f} 分"
        + (f" — {c.excerpt}" if c.excerpt else "")
        for c in report.success_cases
    ] or ["- （まだありません）"]
    out += ["", "## 次に試すこと（横展開）", ""]
    out += [
        f"- {s.from_department_name}「{s.spec_title}」採用 {s.adopted} 件・{rate(s.adoption_rate)} → {'、'.join(s.to_department_names)}"
        + (f"（[{HOWTO_LINK}]({spec_page_url(catalog_url, s.spec_id)})）" if catalog_url else "")
        for s in report.suggestions
    ] or [f"- 条件（{_rollout_rule(report)}）を満たす仕様はまだありません"]
    if catalog_url:
        out += ["", f"[{CATALOG_LINK}]({index_url(catalog_url)})"]
    out += [
        "",
        f"## 月間活用ランキング（{month_title(report)}）",
        "",
        _md_row(["順位", "部署", "下書き", "採用", "確定(時間)"]),
        _md_row(["---"] * 5),
    ]
    out += [
        _md_row([r.rank, r.department_name, r.drafts, r.adopted, hours(r.hours_saved_confirmed)])
        for r in report.ranking
    ]
    out += ["", f"_{EST_NOTE}_", "", f"_{CONF_NOTE}_", ""]
    return "\n".join(out)


# -- the message ----------------------------------------------------------------------------------


def build_digest(report: KpiReport, catalog_url: str | None = None) -> DigestMail:
    """The digest of one report; with `catalog_url` (digest.catalog_url) every part links to the
    published catalogue and each roll-out suggestion to its spec's page."""
    return DigestMail(
        week=report.week,
        subject=build_subject(report),
        text=render_text(report, catalog_url),
        html=render_html(report, catalog_url),
        markdown=render_markdown(report, catalog_url),
    )


def recipients_for(digest_settings: Any, report: KpiReport) -> list[str]:
    """TEICHAKU_DIGEST__RECIPIENTS plus the managers of every department in the report
    (managers keyed by department id or by Japanese name), without duplicates."""
    out: list[str] = list(digest_settings.recipients)
    for d in report.departments:
        out += digest_settings.managers.get(d.department, []) + digest_settings.managers.get(
            d.department_name, []
        )
    seen: set[str] = set()
    return [a for a in out if not (a.casefold() in seen or seen.add(a.casefold()))]


def build_message(
    mail: DigestMail, *, sender: str, recipients: list[str], message_id: str | None = None
) -> EmailMessage:
    """A multipart/alternative message with UTF-8 headers (RFC 2047 encoded-words; ISO-2022-JP
    cannot carry ①, ㈱, 髙 or ～). Bodies are base64 so no relay needs 8BITMIME."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = mail.subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Teichaku-Week"] = mail.week
    msg.set_content(mail.text, subtype="plain", charset="utf-8", cte="base64")
    msg.add_alternative(mail.html, subtype="html", charset="utf-8", cte="base64")
    return msg
