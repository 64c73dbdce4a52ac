"""The digest e-mail: Japanese, multipart, headers that fold cleanly, a chart that survives
mail clients; and the HTML rendered in headless Chromium."""

from __future__ import annotations

import base64
import re
import subprocess
from datetime import date, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from core.settings import DigestSettings
from kpi.catalog import page_name
from kpi.digest import CONF_COLOR, EST_COLOR, build_digest, build_message, recipients_for
from kpi.metrics import (
    DepartmentRow,
    Figures,
    KpiReport,
    RankingRow,
    RolloutSuggestion,
    SuccessCase,
    TrendPoint,
)

CHROMIUM = "/usr/bin/chromium"
ENCODED_WORD = re.compile(r"=\?utf-8\?b\?([A-Za-z0-9+/=]+)\?=", re.IGNORECASE)


def _report(**over: object) -> KpiReport:
    weeks = [f"2026-W{w}" for w in range(41, 49)]
    est = [0, 0, 0, 0, 0, 0, 1.0, 2.0]
    conf = [0, 0, 0, 0, 0, 0, 0.5, 1.5]
    depts = [
        ("sales", "営業部", 1.5, 1.0),
        ("manufacturing", "製造部", 0.5, 0.5),
        ("hr", "人事部", 0.0, 0.0),
    ]
    base: dict[str, object] = dict(
        week="2026-W48", week_start=date(2026, 11, 23), week_end=date(2026, 11, 29), month="2026-11",
        timezone="Asia/Tokyo", generated_at=datetime(2026, 11, 30, 9, 0), currency="円", cost_per_1k_tokens=0.1,
        rollout_min_adopted=3, rollout_min_adoption_rate=0.6,
        headline=Figures(documents=5, drafts=4, adopted=3, rejected=1, adoption_rate=0.75, hours_saved_est=2.0,
                         hours_saved_confirmed=1.5, active_people=3, tokens=1234, cost_est=0.1),
        departments=[DepartmentRow(week="2026-W48", department=d, department_name=n, drafts=2, hours_saved_est=e,
                                   hours_saved_confirmed=c) for d, n, e, c in depts],
        rows=[],
        versions=[],
        trend=[TrendPoint(week=w, week_start=date.fromisocalendar(2026, int(w[-2:]), 1), hours_saved_est=e,
                          hours_saved_confirmed=c) for w, e, c in zip(weeks, est, conf, strict=True)],
        ranking=[RankingRow(rank=i + 1, department=d, department_name=n) for i, (d, n, _, _) in enumerate(depts)],
        success_cases=[SuccessCase(department="sales", department_name="営業部", spec_id="sales/meeting_minutes",
                                   spec_title="<b>商談</b>議事録", week="2026-W48", draft_name="x.draft.docx",
                                   minutes_saved_confirmed=30, minutes_spent=15, excerpt="要約：<script>alert(1)</script>")],
        suggestions=[RolloutSuggestion(spec_id="sales/meeting_minutes", spec_title="商談議事録ドラフト",
                                       use_case="meeting_minutes", from_department="sales", from_department_name="営業部",
                                       adopted=3, adoption_rate=0.75, hours_saved_confirmed=1.5,
                                       to_departments=["hr"], to_department_names=["人事部"])],
    )  # fmt: skip
    base.update(over)
    return KpiReport(**base)  # type: ignore[arg-type]


def test_long_japanese_subject_folds_into_valid_encoded_words() -> None:
    mail = build_digest(_report())
    subject = mail.subject + "・㈱髙橋製作所①～" * 3  # characters ISO-2022-JP cannot carry
    mail = mail.__class__(**{**mail.__dict__, "subject": subject})
    raw = build_message(
        mail, sender="teichaku@example.co.jp", recipients=["dx@example.co.jp"]
    ).as_bytes()
    header = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")  # 7-bit clean
    lines = header.split("\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("Subject:"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith((" ", "\t")))
    folded = lines[start:end]
    assert len(folded) > 2
    assert all(len(line) <= 78 for line in folded)
    for word in ENCODED_WORD.findall("".join(folded)):
        base64.b64decode(word).decode("utf-8")  # no word splits a character (cpython #144156)
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == subject


def test_multipart_text_and_html_with_every_section() -> None:
    report = _report()
    mail = build_digest(report)
    msg = message_from_bytes(
        build_message(
            mail, sender="teichaku@example.co.jp", recipients=["a@example.co.jp"]
        ).as_bytes(),
        policy=policy.default,
    )
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for section in (
        "今週の成果",
        "部署別",
        "推移",
        "成功事例",
        "次に試すこと",
        "月間活用ランキング",
    ):
        assert section in text and section in html
    for key in ("headline", "departments", "trend", "success", "next", "ranking"):
        assert f'data-section="{key}"' in html
    for d in report.departments:  # drift guard: every department in the KPI output is in the digest
        assert d.department_name in text and f"<b>{d.department_name}</b>" in html
    assert "推定" in text and "確定" in text  # estimates and confirmed figures are labelled
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>商談</b>" not in html
    # The chart: one bar cell per non-zero week and kind, drawn with bgcolor (Outlook) and CSS.
    assert html.count(f'bgcolor="{EST_COLOR}" style="background-color:{EST_COLOR}') >= 2
    assert 'data-bar="conf-2026-W48"' in html
    assert "<img" not in html  # nothing for image blocking to hide
    assert "2026-W48 ████████████████████████" in text  # the same chart in the text part


def test_links_to_the_catalogue_and_each_suggested_spec_page() -> None:
    mail = build_digest(_report(), catalog_url="file://fileserver/共有/プロンプト集/")
    index = "file://fileserver/共有/プロンプト集/index.html"
    page = "file://fileserver/共有/プロンプト集/" + page_name("sales/meeting_minutes")
    assert f"プロンプト集（部署別の使い方）: {index}" in mail.text
    assert f"使い方・例を見る: {page}" in mail.text
    assert f'<a href="{index}"' in mail.html and "プロンプト集（部署別の使い方）</a>" in mail.html
    suggestion = re.search(r"<li[^>]*>.*?商談議事録ドラフト.*?</li>", mail.html)
    assert suggestion and f'<a href="{page}"' in suggestion.group(0)
    assert f"]({index})" in mail.markdown and f"]({page})" in mail.markdown
    # Pasting the index page instead of its folder gives the same links.
    same = build_digest(_report(), catalog_url="file://fileserver/共有/プロンプト集/index.html")
    assert same.html == mail.html and same.text == mail.text


def test_no_links_without_a_catalogue_url() -> None:
    mail = build_digest(_report())
    assert "プロンプト集" not in mail.text and "プロンプト集" not in mail.html
    assert "<a " not in mail.html and "使い方・例を見る" not in mail.text
    assert DigestSettings().catalog_url is None
    assert DigestSettings(catalog_url="  ").catalog_url is None


def test_recipients_include_department_managers_once() -> None:
    settings = DigestSettings(
        recipients=["dx@example.co.jp"],
        managers={
            "sales": ["eigyo@example.co.jp"],
            "製造部": ["seizo@example.co.jp", "DX@example.co.jp"],
            "経理部": ["x@y"],
        },
    )
    assert recipients_for(settings, _report()) == [
        "dx@example.co.jp",
        "eigyo@example.co.jp",
        "seizo@example.co.jp",
    ]


def _colored_runs(png: Path, rgb: tuple[int, int, int]) -> list[int]:
    """Lengths of the longest horizontal run of `rgb` in each pixel row that has one."""
    from PIL import Image

    img = Image.open(png).convert("RGB")
    w, h = img.size
    px = img.load()
    runs = []
    for y in range(h):
        best = cur = 0
        for x in range(w):
            cur = cur + 1 if sum(abs(a - b) for a, b in zip(px[x, y], rgb, strict=True)) < 30 else 0
            best = max(best, cur)
        if best > 3:
            runs.append(best)
    return runs


def _hex(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


@pytest.mark.browser
def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium fonts-noto-cjk)")
    page = tmp_path / "digest.html"
    page.write_text(build_digest(_report()).html, encoding="utf-8")
    shot = tmp_path / "digest.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={shot}",
         "--window-size=760,2600", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert shot.stat().st_size > 10_000
    est = _colored_runs(shot, _hex(EST_COLOR))
    conf = _colored_runs(shot, _hex(CONF_COLOR))
    assert est and conf, "no chart bars in the screenshot"
    # The longest blue bar is W48 in the trend (2.0 hours); W47 (1.0 hour) must be drawn half as long.
    longest = max(est)
    assert any(abs(r / longest - 0.5) < 0.02 for r in est), sorted(set(est))
