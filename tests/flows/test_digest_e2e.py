"""Must show (issue 4): after an offline run and feedback on three drafts, this week's digest
reaches a real SMTP server exactly once although `teichaku digest --send` ran twice, with a
Japanese subject, text and HTML parts, every department, a chart, the figures of
`teichaku kpi --json`, to the recipients of TEICHAKU_DIGEST__RECIPIENTS."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import load_settings
from core.specs import load_specs
from core.workspace import folders_for, init_workspace
from flows.intake import run_intake
from kpi.metrics import current_week
from tests.support.samples import write_samples
from tests.support.smtp_server import SmtpSink

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

RECIPIENTS = ["dx-suishin@example.co.jp", "keiei-kikaku@example.co.jp"]
TEICHAKU = [str(Path(sys.executable).with_name("teichaku"))]  # the installed console script


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*TEICHAKU, *args], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _rate(r: float | None) -> str:
    return "—" if r is None else f"{round(r * 100)}%"


def test_weekly_digest_reaches_smtp_exactly_once(tmp_path: Path) -> None:
    ws = tmp_path / "共有フォルダ"
    init_workspace(ws, load_specs(ws), load_settings(ws))
    settings = load_settings(ws)
    specs = {s.spec.id: s.spec for s in load_specs(ws)}
    for spec in specs.values():
        write_samples(spec.id, folders_for(settings, spec).inbox)
    first = run_intake(settings)
    assert first.engine == "offline"
    assert {o.spec_id for o in first.outcomes if o.status == "drafted"} == set(specs)

    def draft_of(spec_id: str) -> Path:
        return sorted(folders_for(settings, specs[spec_id]).outbox.glob("*.draft.docx"))[0]

    # Feedback on three drafts, the ways people give it: two folder moves and one command.
    sales = draft_of("sales/meeting_minutes")
    (sales.parent / "採用" / "30分").mkdir(parents=True)
    shutil.move(sales, sales.parent / "採用" / "30分" / sales.name)
    made = draft_of("manufacturing/daily_report")
    shutil.move(made, made.parent / "不採用" / made.name)

    with SmtpSink() as sink:
        env = {
            **os.environ,
            "TEICHAKU_SMTP__HOST": "127.0.0.1",
            "TEICHAKU_SMTP__PORT": str(sink.port),
            "TEICHAKU_SMTP__STARTTLS": "false",
            "TEICHAKU_SMTP__SENDER": "teichaku@example.co.jp",
            "TEICHAKU_DIGEST__RECIPIENTS": json.dumps(RECIPIENTS),
            "TEICHAKU_DIGEST__ROLLOUT_MIN_ADOPTED": "1",
        }
        _cli(
            [
                "feedback",
                "-w",
                str(ws),
                "--draft",
                str(draft_of("admin/ringi")),
                "--verdict",
                "adopted",
            ],
            env,
        )
        run_intake(settings)  # the next run picks up the folder moves
        week = current_week(settings.digest.timezone)
        kpi = json.loads(_cli(["kpi", "-w", str(ws), "--json", "--week", week], env).stdout)
        sent = _cli(["digest", "-w", str(ws), "--week", week, "--send"], env)
        again = _cli(["digest", "-w", str(ws), "--week", week, "--send"], env)
        assert "送信しました" in sent.stdout and "送信済み" in again.stdout
        assert len(sink.received) == 1

    h = kpi["headline"]
    assert (h["drafts"], h["adopted"], h["rejected"]) == (len(specs), 2, 1)
    assert h["hours_saved_confirmed"] > 0
    got = sink.received[0]
    assert got.rcpt_tos == RECIPIENTS
    msg = got.message
    assert [a.strip() for a in msg["To"].split(",")] == RECIPIENTS
    subject = msg["Subject"]
    assert "週次レポート" in subject and f"確定{h['hours_saved_confirmed']:.1f}時間" in subject
    assert (
        subject.isascii() is False and got.data.split(b"\r\n\r\n")[0].isascii()
    )  # encoded, decoded back
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]

    # Every department, with the same figures as `teichaku kpi --json`.
    assert {d["department_name"] for d in kpi["departments"]} == {
        "営業部",
        "製造部",
        "管理部",
        "人事部",
    }
    for d in kpi["departments"]:
        line = (
            f"  {d['department_name']}: 受付 {d['documents']} 件 / 下書き {d['drafts']} 件 / 採用 {d['adopted']} 件 / "
            f"不採用 {d['rejected']} 件 / 採用率 {_rate(d['adoption_rate'])} / 削減 推定 {d['hours_saved_est']:.1f} 時間・"
            f"確定 {d['hours_saved_confirmed']:.1f} 時間 / 利用者 {d['active_people']} 人"
        )
        assert line in text, line
        cells = re.search(rf"<b>{d['department_name']}</b></td>(.*?)</tr>", html)
        assert cells, d["department_name"]
        values = re.findall(r">([^<>]+)</td>", cells.group(1))
        assert values[:8] == [str(d["documents"]), str(d["drafts"]), str(d["adopted"]), str(d["rejected"]),
                              _rate(d["adoption_rate"]), f"{d['hours_saved_est']:.1f}",
                              f"{d['hours_saved_confirmed']:.1f}", str(d["active_people"])]  # fmt: skip
    tile = re.search(r'data-figure="hours_saved_confirmed".*?font-weight:bold;[^>]*>([^<]+)<', html)
    assert tile and tile.group(1) == f"{h['hours_saved_confirmed']:.1f}"
    assert f"削減時間（推定）: {h['hours_saved_est']:.1f} 時間" in text
    assert f"削減時間（確定）: {h['hours_saved_confirmed']:.1f} 時間" in text
    # The chart: bars in the trend for this week, in the HTML and in the text part.
    assert 'data-chart="trend"' in html and f'data-bar="est-{week}"' in html
    assert f'data-bar="conf-{week}"' in html
    assert re.search(rf"{week} █+", text)
    # Success case (the adopted sales draft, 30 minutes spent) and a roll-out suggestion.
    assert kpi["success_cases"] and "成功事例" in text
    assert all(c["spec_title"] in text for c in kpi["success_cases"])
    assert kpi["suggestions"] and kpi["suggestions"][0]["spec_title"] in html
    for r in kpi["ranking"]:
        assert f"{r['rank']}位 {r['department_name']}: 下書き {r['drafts']} 件" in text
