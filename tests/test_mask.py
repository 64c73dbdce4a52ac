"""`teichaku mask` through the real CLI in a subprocess: the preview of a file, and the exact
--jsonl contract (order, ids, code-point offsets into the input, errors that do not stop it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CATEGORIES = {"person", "company", "email", "phone", "address", "my_number", "card", "account"}


def _cli(args: list[str], *, stdin: str | None = None, **env_extra: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEICHAKU_", "OPENAI_"))}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-c", "from teichaku.cli import main; main()", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("マスク確認") / "ws"
    assert _cli(["init", str(ws)]).returncode == 0
    (ws / "guard").mkdir(exist_ok=True)
    (ws / "guard" / "取引先.txt").write_text("みどり工房\n", encoding="utf-8")
    return ws


def test_jsonl_contract(workspace: Path):
    texts = {
        "議事録-1": "出席者：山田太郎、佐藤（みどり工房）\n連絡先：090-1234-5678 / taro@example.co.jp",
        "略語": "😀絵文字の後でも位置は文字単位。株式会社北斗精機の鈴木様。",
        "空": "個人情報のない文です。",
    }
    lines = [json.dumps({"id": k, "text": v}, ensure_ascii=False) for k, v in texts.items()]
    lines.insert(1, "{壊れた行")
    lines.insert(3, '["not", "an", "object"]')
    lines.append(json.dumps({"id": 7}))
    run = _cli(["mask", "--workspace", str(workspace), "--jsonl"], stdin="\n".join(lines) + "\n")
    assert run.returncode == 0, run.stderr
    out = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(out) == len(lines)
    assert out[1]["id"] is None and "error" in out[1]
    assert out[3]["id"] is None and "error" in out[3]
    assert out[-1]["id"] == 7 and "error" in out[-1]
    answers = [o for o in out if "masked" in o]
    assert [o["id"] for o in answers] == list(texts)
    for answer in answers:
        text = texts[answer["id"]]
        rebuilt, pos = [], 0
        for span in answer["spans"]:
            assert span["category"] in CATEGORIES
            assert set(span) == {"start", "end", "category", "placeholder"}
            assert pos <= span["start"] < span["end"] <= len(text)
            rebuilt += [text[pos : span["start"]], span["placeholder"]]
            pos = span["end"]
        rebuilt.append(text[pos:])
        assert "".join(rebuilt) == answer["masked"]  # offsets are code points into the input
    first = {text_of(texts["議事録-1"], s): s["category"] for s in answers[0]["spans"]}
    assert first["山田太郎"] == "person" and first["みどり工房"] == "company"
    assert first["090-1234-5678"] == "phone" and first["taro@example.co.jp"] == "email"
    second = {text_of(texts["略語"], s): s["category"] for s in answers[1]["spans"]}
    assert second.get("鈴木") == "person"
    assert answers[2]["spans"] == [] and answers[2]["masked"] == texts["空"]


def text_of(text: str, span: dict) -> str:
    return text[span["start"] : span["end"]]


def test_file_preview_counts_and_routes(workspace: Path):
    inbox = workspace / "営業部" / "商談議事録" / "受付"
    doc = inbox / "北斗精機_打合せメモ.txt"
    doc.write_text(
        "出席者：山田太郎\n株式会社北斗精機の佐藤様に 090-1234-5678 で連絡する。\n",
        encoding="utf-8",
    )
    env = {"OPENAI_API_KEY": "sk-test-not-secret", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    run = _cli(["mask", str(doc), "--workspace", str(workspace)], **env)
    assert run.returncode == 0, run.stderr
    for secret in ("山田", "北斗精機", "佐藤", "090-1234-5678"):
        assert secret not in run.stdout, secret
    assert "[人名1]" in run.stdout and "[電話1]" in run.stdout
    assert "送信先 (external)" in run.stdout and "sales/meeting_minutes" in run.stdout
    assert "人名" in run.stdout and "person" in run.stdout

    secret_doc = inbox / "【社外秘】価格改定.txt"
    secret_doc.write_text("【社外秘】新価格は来月から適用。\n", encoding="utf-8")
    blocked = _cli(["mask", str(secret_doc), "--workspace", str(workspace)], **env)
    assert blocked.returncode == 0, blocked.stderr
    assert "送信先 (blocked)" in blocked.stdout and "社外秘" in blocked.stdout

    off = _cli(
        ["mask", str(doc), "--workspace", str(workspace)],
        TEICHAKU_GUARD__SEND_EXTERNAL="false",
        **env,
    )
    assert off.returncode == 0, off.stderr
    assert "送信先 (local_only)" in off.stdout and "社外の AI には送らず" in off.stdout


def test_mask_needs_a_file_or_jsonl(workspace: Path):
    run = _cli(["mask", "--workspace", str(workspace)])
    assert run.returncode == 2 and "ファイルを指定" in run.stderr
    missing = _cli(["mask", str(workspace / "ない.txt"), "--workspace", str(workspace)])
    assert missing.returncode == 2 and "ファイルがありません" in missing.stderr


def test_init_says_where_the_name_lists_go(tmp_path: Path):
    run = _cli(["init", str(tmp_path / "新しい作業場")])
    assert run.returncode == 0, run.stderr
    assert "guard/取引先.txt" in run.stdout and "employee_csv" in run.stdout
    assert "teichaku mask" in run.stdout
