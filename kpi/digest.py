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
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from kpi.catalog import index_url, spec_page_url
from kpi.metrics import Figures, KpiReport

EST_COLOR = "#2563eb"  # estimated (推定)
CONF_COLOR = "#059669"  # confirmed (確定)
TRACK_COLOR = "#e5e7eb"
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


# -- plain text and HTML, from the templates in kpi/templates/digest/ ------------------------


def _footer(report: KpiReport) -> list[str]:
    return [
        f"※ 推定コストは 1,000 トークンあたり {report.cost_per_1k_tokens}{report.currency} で計算（オフラインエンジンは 0）。",
        f"※ 集計: {report.generated_at:%Y-%m-%d %H:%M}（{report.timezone}）。このメールは teichaku が自動送信しています。",
    ]


def _bar_percent(value: float, top: float) -> int:
    """A bar's filled share of its track; at least 1% for any non-zero value, so it shows."""
    return max(1, round(100 * value / top)) if top > 0 and value > 0 else 0


@lru_cache(maxsize=1)
def _env() -> Environment:
    # Our own templates (not the DX office's): a plain environment, HTML autoescaped.
    env = Environment(
        loader=PackageLoader("kpi", "templates/digest"),
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        hours=hours,
        rate=rate,
        thousands="{:,}".format,
        one_decimal="{:.1f}".format,
        whole="{:.0f}".format,
    )
    env.globals.update(
        EST_COLOR=EST_COLOR,
        CONF_COLOR=CONF_COLOR,
        TRACK_COLOR=TRACK_COLOR,
        CATALOG_LINK=CATALOG_LINK,
        HOWTO_LINK=HOWTO_LINK,
        OUTCOME_COLUMNS=OUTCOME_COLUMNS,
        DEPARTMENT_COLUMNS=DEPARTMENT_COLUMNS,
        outcome_cells=outcome_cells,
        figures_line=figures_line,
        text_bar=_text_bar,
        bar_percent=_bar_percent,
        index_url=index_url,
        spec_page_url=spec_page_url,
    )
    return env


def usage_lines(report: KpiReport) -> list[str]:
    """What people did with each spec version's drafts this week: how much of an adopted draft
    was kept, adoptions without any edit, and why drafts were not used (most given first)."""
    reasons: dict[tuple[str, int], list[str]] = {}
    for r in report.reasons:
        reasons.setdefault((r.spec_id, r.spec_version), []).append(f"{r.reason} {r.count}")
    out = []
    for v in report.versions:
        why = reasons.get((v.spec_id, v.spec_version or 0), [])
        if not (v.adopted or v.rejected):
            continue
        line = f"{v.department_name} {v.spec_title} v{v.spec_version}: 採用 {v.adopted} 件"
        if v.retention_median is not None:
            line += f"（残存率の中央値 {v.retention_median:.0%}・無修正での採用 {v.untouched_adoptions} 件）"
        line += f"・不採用 {v.rejected} 件" + (f"（理由: {'、'.join(why)}）" if why else "")
        out.append(line)
    return out


def _context(report: KpiReport, catalog_url: str | None) -> dict[str, Any]:
    """What both templates show beyond the report itself (titles, chart scales, notes)."""
    return {
        "report": report,
        "catalog_url": catalog_url,
        "subject": build_subject(report),
        "week_title": week_title(report),
        "month_title": month_title(report),
        "rollout_rule": _rollout_rule(report),
        "usage": usage_lines(report),
        "notes": [EST_NOTE, CONF_NOTE],
        "footer": _footer(report),
        "top_department": max((d.hours_saved_est for d in report.departments), default=0.0),
        "top_trend": max(
            (max(p.hours_saved_est, p.hours_saved_confirmed) for p in report.trend), default=0.0
        ),
        "top_trend_est": max((p.hours_saved_est for p in report.trend), default=0.0),
    }


def render_text(report: KpiReport, catalog_url: str | None = None) -> str:
    """The plain-text part (templates/digest/digest.txt.j2)."""
    return _env().get_template("digest.txt.j2").render(_context(report, catalog_url))


def render_html(report: KpiReport, catalog_url: str | None = None) -> str:
    """The HTML part (templates/digest/digest.html.j2), as one line: whitespace between table
    cells can show as gaps in some mail clients, and the template is laid out for reading."""
    page = _env().get_template("digest.html.j2").render(_context(report, catalog_url))
    return "".join(line.strip() for line in page.splitlines()) + "\n"


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
        f"順位: {report.ranking_order}",
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
