"""Synthetic Japanese documents for the benchmark: short, realistic, different in every file.

Every name, company and number is made up; each document differs (its number is in the text), so
no two share a content hash and every one costs a model call.
"""

from __future__ import annotations

from pathlib import Path

from tests.support import builders, names

SURNAMES = names.SURNAMES[:12]
GIVEN = names.GIVEN[:10]
COMPANIES = ["株式会社北斗精機", "ミナト物産", "東和商事株式会社", "株式会社ひかり精工", "大和運輸"]

# spec id -> (department folder path parts are resolved by the workspace), body builder
_BODIES = {
    "sales/meeting_minutes": lambda i, p, c: [
        f"商談議事録 第{i}回",
        f"日時：2026年11月{1 + i % 28}日 14:00-15:00",
        f"出席者：{c} {p[0]}様、当社 {p[1]}",
        f"議題：新型ユニット KX-{2000 + i} の見積と納期について。",
        f"先方から月{100 + i % 50}台の発注見込みが示された。価格は前回比3%減を希望。",
        f"【決定事項】見積を12月{1 + i % 20}日までに提出する。",
        f"【宿題】{p[1]}が納期回答を社内調整する。次回は来週水曜。",
    ],
    "manufacturing/daily_report": lambda i, p, c: [
        f"製造日報 No.{i}",
        f"記入者：{p[0]}　班長：{p[1]}",
        f"生産数 {1000 + i % 300}個 / 計画 1,250個。",
        f"不良 {i % 7}個（外観キズ）。ライン2が{10 + i % 20}分停止（センサー交換）。",
        "安全：ヒヤリハット1件（通路の台車）。",
        f"引継ぎ：夜勤へ治具{i % 5 + 1}番の点検を依頼。",
    ],
    "admin/ringi": lambda i, p, c: [
        f"稟議メモ {i}",
        f"申請者：{p[0]}（管理部）",
        f"件名：{c} からの複合機リース更新（{i % 12 + 1}台）",
        f"費用：月額{30000 + i * 10}円、5年リース。",
        "効果：保守費の削減と印刷速度の向上。",
        "リスク：移行時に1日の停止。代替案：現行機の延長保守。",
    ],
    "hr/job_posting": lambda i, p, c: [
        f"人材要件メモ {i}",
        f"作成者：{p[0]}（人事部）　面接官：{p[1]}",
        f"職種：生産技術エンジニア（募集{i % 3 + 1}名）",
        "必須：設備保全の経験3年以上。歓迎：PLC の知識。",
        f"勤務地：本社工場。年収{450 + i % 200}万円から。",
    ],
}
SPEC_IDS = tuple(_BODIES)


def document_lines(i: int, spec_id: str) -> list[str]:
    people = [
        SURNAMES[i % len(SURNAMES)] + GIVEN[i % len(GIVEN)],
        SURNAMES[(i * 7 + 3) % len(SURNAMES)],
    ]
    return _BODIES[spec_id](i, people, COMPANIES[i % len(COMPANIES)])


def write_document(inbox: Path, i: int, spec_id: str, kind: str) -> Path:
    """One document number `i` for `spec_id` as docx, pdf or txt."""
    lines = document_lines(i, spec_id)
    stem = f"bench-{i:05d}"
    if kind == "docx":
        return builders.make_docx(
            inbox / f"{stem}.docx",
            [*lines[:-2], [["項目", "内容"], ["備考", lines[-2]]], lines[-1]],
        )
    if kind == "pdf":
        return builders.make_pdf(inbox / f"{stem}.pdf", ["\n".join(lines)])
    return builders.make_text(inbox / f"{stem}.txt", "\n".join(lines) + "\n")


def kind_for(i: int) -> str:
    """Half docx, a quarter each PDF and text: roughly what a share holds."""
    return ("docx", "txt", "docx", "pdf")[i % 4]
