from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.specs import PromptSpec, load_specs
from tasks.generate import OfflineEngine
from tests.support.samples import SAMPLES

ROOT = Path(__file__).resolve().parents[2]
SPECS = {ls.spec.id: ls.spec for ls in load_specs()}


def _run(spec_id: str) -> dict:
    sample = SAMPLES[spec_id][0]
    result = OfflineEngine().generate(SPECS[spec_id], sample.text(), file_name=sample.filename)
    return result.output


@pytest.mark.parametrize("spec_id", sorted(SAMPLES))
def test_output_validates_against_spec(spec_id: str) -> None:
    spec = SPECS[spec_id]
    sample = SAMPLES[spec_id][0]
    result = OfflineEngine().generate(spec, sample.text(), file_name=sample.filename)
    assert result.engine == "offline"
    assert result.model == "extractive-ja-v1"
    assert result.calls == []
    assert result.needs_review_reason is None
    spec.output_model.model_validate(result.output)
    assert set(result.output) == {f.name for f in spec.output}
    # The built-in samples are written so that every section is found.
    empty = [name for name, value in result.output.items() if not value]
    assert empty == []


def test_sales_minutes_key_facts() -> None:
    out = _run("sales/meeting_minutes")
    assert (
        "エコパックSを2027年1月から第1工場の一部ラインで試験採用することで合意した。"
        in out["decisions"]
    )
    assert any("2.5%" in d for d in out["decisions"])
    rows = out["action_items"]
    assert {"task": "改定単価を反映した見積書の提出", "owner": "山田", "due": "12月4日(金)"} in rows
    assert any(r["owner"] == "物流課 田中" and r["due"] == "来週月曜" for r in rows)
    # A ToDo written as prose under the table: owner from 「山田さん」, due from （今月中）.
    prose = [r for r in rows if "日程調整" in r["task"]]
    assert prose and prose[0]["owner"] == "山田" and prose[0]["due"] == "今月中"
    assert any("12月15日" in s for s in out["next_steps"])
    assert "エコパックS" in out["summary"]
    assert "yamada@example.com" not in json.dumps(out, ensure_ascii=False)


def test_manufacturing_daily_report_key_facts() -> None:
    out = _run("manufacturing/daily_report")
    a_line = next(r for r in out["production"] if r["item"].startswith("Aライン"))
    assert a_line == {
        "item": "Aライン（ブラケットB-12）",
        "plan": "1,200個",
        "actual": "1,130個",
        "rate": "94.2%",
    }
    assert len(out["production"]) == 3
    assert any("70分" in s for s in out["stoppages"])
    assert any("ヒヤリハット" in s for s in out["safety"])
    assert any("11月28日までに" in s for s in out["handover"])
    assert any("バリ不良 18個" in s for s in out["defects"])
    assert "94.9%" in out["shift_summary"]
    assert "内線" not in out["shift_summary"]  # trailing contact line is not part of the summary


def test_ringi_key_facts() -> None:
    out = _run("admin/ringi")
    assert out["subject"] == "勤怠管理システムのクラウド移行について"
    assert "クラウド型" in out["purpose"]
    assert "40時間" in out["background"]
    assert any("1,378,000円" in c for c in out["cost"])
    assert any(a.startswith("A案") for a in out["alternatives"])
    assert any("打刻漏れ" in r for r in out["risks"])
    assert "4月本稼働" in out["schedule"]
    assert "1,378,000円" in out["approval_request"]


def test_job_posting_key_facts() -> None:
    out = _run("hr/job_posting")
    assert out["job_title"] == "法人営業（リーダー候補）"
    assert "大阪営業所" in out["mission"]
    assert "法人営業の経験3年以上（業界不問）" in out["required_skills"]
    assert any("土地勘" in s for s in out["preferred_skills"])
    assert any(c.startswith("勤務地：") for c in out["conditions"])
    assert any("年間休日125日" in c for c in out["conditions"])
    assert len(out["duties"]) == 4
    assert any("112%" in a for a in out["appeal_points"])


@pytest.mark.parametrize("spec_id", sorted(SAMPLES))
def test_deterministic_in_process(spec_id: str) -> None:
    assert _run(spec_id) == _run(spec_id)


_UNUSUAL = {
    "id": "cs/complaint",
    "version": 3,
    "department": "cs",
    "department_name": "お客様相談室",
    "document_name": "苦情受付票",
    "title": "苦情受付票 → 対応記録",
    "purpose": "苦情の要点と対応を整理する。",
    "inputs": {"description": "受付票を入れてください。"},
    "system_prompt": "日本語で書く。",
    "user_template": "{{ document_text }}",
    "render_template": "{{ out }}",
    "baseline_minutes": 20,
    "review_minutes": 5,
    "baseline_source": "テスト",
    "output": [
        # No keywords at all: must fall back to key sentences.
        {"name": "gist", "title": "あらまし", "kind": "text", "description": "x", "max_chars": 80},
        {"name": "tiny", "title": "一言", "kind": "text", "description": "x", "max_chars": 10},
        {
            "name": "voices",
            "title": "お客様の声",
            "kind": "list",
            "description": "x",
            "max_items": 2,
            "max_chars": 25,
            "keywords": ["要望", "不満"],
        },
        {
            "name": "followups",
            "title": "対応予定",
            "kind": "table",
            "description": "x",
            "max_chars": 40,
            "keywords": ["対応"],
            "columns": [
                {"name": "what", "title": "対応内容"},
                {"name": "who", "title": "対応者"},
                {"name": "by_when", "title": "いつまで"},
                {"name": "amount", "title": "金額"},
            ],
        },
        {
            "name": "nothing",
            "title": "該当なし欄",
            "kind": "list",
            "description": "x",
            "keywords": ["ZZZ"],
        },
    ],
}

_COMPLAINT = """苦情受付票 No.2026-118
受付日：2026年11月25日　受付者：お客様相談室 中村
株式会社サンプル商事の購買担当の方から、納品された段ボールの印刷がかすれているとの連絡があった。
お客様は、前回も同じ不具合があったことに強い不満を持っている。
再発防止策を文書で提出してほしいとの要望があった。
代替品の出荷と返金の可否についても確認を求められている。
品質保証課の小林さんが11月28日までに原因調査を対応する。
代替品の出荷は物流課が対応し、費用30,000円（税別）は当社負担とする（担当：松本、期限：12/1）。
"""


def test_unusual_spec_built_in_test() -> None:
    spec = PromptSpec.model_validate(_UNUSUAL)
    result = OfflineEngine().generate(spec, _COMPLAINT, file_name="苦情受付票.txt")
    out = result.output
    spec.output_model.model_validate(out)
    assert out["gist"] and len(out["gist"]) <= 80
    assert out["tiny"] and len(out["tiny"]) <= 10
    assert 1 <= len(out["voices"]) <= 2 and all(len(v) <= 25 for v in out["voices"])
    assert out["nothing"] == []
    rows = out["followups"]
    assert {"who": "小林", "by_when": "11月28日"}.items() <= rows[0].items()
    assert rows[1]["who"] == "松本" and rows[1]["by_when"] == "12/1"
    assert rows[1]["amount"].startswith("30,000円")
    assert all(len(v) <= 40 for r in rows for v in r.values())


@pytest.mark.parametrize(
    "heading",
    [
        "【決定事項】",
        "■決定事項",
        "＜決定事項＞",
        "1. 決定事項",
        "# 決定事項",
        "決定事項：",
        "◆ 合意事項",
        "決定事項",
    ],
)
def test_heading_styles_map_to_fields(heading: str) -> None:
    text = f"営業定例メモ\n{heading}\n・価格は据え置きとする\n・納期は2週間とする\n【ToDo】\n・見積書を送付する（担当：山田、期限：11/30）\n"
    out = OfflineEngine().generate(SPECS["sales/meeting_minutes"], text, file_name="m.txt").output
    assert out["decisions"] == ["価格は据え置きとする", "納期は2週間とする"]
    assert out["action_items"] == [{"task": "見積書を送付する", "owner": "山田", "due": "11/30"}]


@pytest.mark.parametrize(
    ("line", "owner", "due"),
    [
        ("見積書を送付する（担当：山田、期限：11/30）", "山田", "11/30"),
        ("鈴木さんが2026-12-01までに資料を準備する。", "鈴木", "2026-12-01"),
        ("田中担当で来週月曜までに回答する。", "田中", "来週月曜"),
        ("価格表の更新 (佐藤) 12月5日(金)", "佐藤", "12月5日(金)"),
        ("11月30日までにサンプル手配：高橋", "高橋", "11月30日"),
        ("契約書の確認（今月中）", "", "今月中"),
    ],
)
def test_owner_and_due_parsing(line: str, owner: str, due: str) -> None:
    text = f"【ToDo】\n・{line}\n"
    rows = (
        OfflineEngine()
        .generate(SPECS["sales/meeting_minutes"], text, file_name="m.txt")
        .output["action_items"]
    )
    assert len(rows) == 1
    assert (rows[0]["owner"], rows[0]["due"]) == (owner, due)
    assert rows[0]["task"]


def test_action_items_without_a_section_need_owner_or_due() -> None:
    text = "商談メモ\n先方の対応は丁寧だった。\n山田さんが12月3日までに提案書を送る。\n"
    out = OfflineEngine().generate(SPECS["sales/meeting_minutes"], text, file_name="m.txt").output
    assert [r["owner"] for r in out["action_items"]] == ["山田"]


def test_pdf_wrapped_lines_are_rejoined() -> None:
    text = "【設備停止・トラブル】\n・Cライン 13:40〜14:50（70分）溶接ロボットのアラームで停止。保全課が対応\nし、ワイヤ送給部を交換。\n"
    out = (
        OfflineEngine()
        .generate(SPECS["manufacturing/daily_report"], text, file_name="d.pdf")
        .output
    )
    assert out["stoppages"] == [
        "Cライン 13:40〜14:50（70分）溶接ロボットのアラームで停止。保全課が対応し、ワイヤ送給部を交換。"
    ]


def test_empty_document_asks_for_review() -> None:
    result = OfflineEngine().generate(
        SPECS["sales/meeting_minutes"], " \n\n", file_name="empty.txt"
    )
    assert result.needs_review_reason
    assert result.output == {"summary": "", "decisions": [], "action_items": [], "next_steps": []}


def test_long_input_is_bounded_and_fast() -> None:
    spec = SPECS["sales/meeting_minutes"]
    bullets = "\n".join(f"・案件{i}の条件で合意した。" for i in range(3000))
    todo = "\n".join(f"・資料{i}を作成（担当：山田、期限：11/{i % 28 + 1}）" for i in range(3000))
    one_huge_sentence = "長い説明" * 20000
    text = f"【議事内容】\n{one_huge_sentence}\n【決定事項】\n{bullets}\n【ToDo】\n{todo}\n"
    started = time.perf_counter()
    out = OfflineEngine().generate(spec, text, file_name="big.txt").output
    elapsed = time.perf_counter() - started
    spec.output_model.model_validate(out)
    fields = {f.name: f for f in spec.output}
    assert len(out["summary"]) <= fields["summary"].max_chars
    assert len(out["decisions"]) == fields["decisions"].max_items
    assert len(out["action_items"]) == fields["action_items"].max_items
    assert elapsed < 5, elapsed


def test_300_page_document_stays_linear() -> None:
    spec = SPECS["admin/ringi"]
    page = SAMPLES["admin/ringi"][0].text()
    small = page * 5
    OfflineEngine().generate(spec, small, file_name="warm.txt")
    started = time.perf_counter()
    OfflineEngine().generate(spec, small, file_name="small.txt")
    t_small = time.perf_counter() - started
    started = time.perf_counter()
    out = OfflineEngine().generate(spec, page * 300, file_name="big.txt").output
    t_big = time.perf_counter() - started
    spec.output_model.model_validate(out)
    # Generous bounds: CI machines are slow, the point is "no quadratic blow-up".
    assert t_small < 0.5, t_small
    assert t_big < 10, t_big


def test_deterministic_across_processes() -> None:
    """Set iteration order depends on PYTHONHASHSEED; the ranking must not."""
    code = (
        "import json,sys\n"
        "from tasks.generate import OfflineEngine\n"
        "from core.specs import PromptSpec\n"
        "from tests.tasks.test_offline_engine import _UNUSUAL, _COMPLAINT\n"
        "spec = PromptSpec.model_validate(_UNUSUAL)\n"
        "out = OfflineEngine().generate(spec, _COMPLAINT * 7, file_name='x').output\n"
        "sys.stdout.write(json.dumps(out, ensure_ascii=False, sort_keys=True))\n"
    )
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(proc.stdout)
    assert len(outputs) == 1


def test_followup_mail_key_facts() -> None:
    out = _run("sales/followup_mail")
    assert out["subject"] == "本日の定例商談のお礼と確認事項のご連絡"
    assert {"task": "改定単価を反映した見積書の提出", "owner": "山田", "due": "12月4日"} in out[
        "our_actions"
    ]
    assert "12月15日" in out["next_meeting"]
    # The sales person's internal note is not a section of the mail.
    assert "値引きの上限" not in json.dumps(out, ensure_ascii=False)


def test_proposal_outline_key_facts() -> None:
    out = _run("sales/proposal_outline")
    assert len(out["customer_issues"]) == 3
    assert out["outline"][0] == "現状の課題の整理" and len(out["outline"]) == 5
    assert any("240万円" in s for s in out["cost_schedule"])


def test_faq_answer_key_facts() -> None:
    out = _run("admin/faq_answer")
    assert "慶弔休暇" in out["question"] and "1日" in out["answer"]
    assert any("第32条" in g for g in out["grounds"])
    assert len(out["steps"]) == 3


def test_handover_note_key_facts() -> None:
    out = _run("manufacturing/handover_note")
    assert {
        "task": "Bラインの段取り替え手順書の改訂",
        "status": "原案作成済み、課長確認中",
        "due": "12月10日",
    } in out["ongoing"]
    assert any("保留" in s for s in out["pending_decisions"])
    assert "高田" in out["overview"]
