"""A labelled Japanese test set for the guard, built in code, and the end-to-end checks.

`corpus()` makes documents from labelled segments, so every personal value's position is known.
Names and templates here are used nowhere else in the tests (held out from tests/tasks/test_guard.py).
Figures per category go in the README ("## Guardrails").
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from core.settings import load_settings
from tasks.guard import detect
from tests.support.fake_endpoint import FakeEndpoint

SURNAMES = [
    "阿部",
    "石井",
    "上野",
    "大塚",
    "小野寺",
    "河合",
    "菊地",
    "久保",
    "小松",
    "坂本",
    "柴田",
    "杉山",
    "千葉",
    "高木",
    "竹内",
    "田村",
    "土屋",
    "永井",
    "中島",
    "野口",
    "服部",
    "平野",
    "福田",
    "堀",
    "松尾",
    "丸山",
    "宮崎",
    "村上",
    "安田",
    "横山",
    "渡部",
    "今井",
    "工藤",
    "須藤",
    "原田",
]
GIVEN = [
    "浩二",
    "美穂",
    "健太",
    "裕子",
    "大輔",
    "彩",
    "直樹",
    "恵",
    "翔太",
    "真由美",
    "誠",
    "千尋",
    "隆",
    "陽菜",
]
COMPANIES = [
    "株式会社ひかり精工",
    "東和システム株式会社",
    "(株)丸善テック",
    "㈱ヤマト化工",
    "有限会社なごみ堂",
    "株式会社アオイ総研",
    "北陸機材株式会社",
    "合同会社ミライ設計",
    "株式会社三光",
    "サクラ物産",
]
CLIENT_LIST = [
    "協和ロジスティクス",
    "ノーザン通商",
    "みどり工房",
]  # in <workspace>/guard/取引先.txt
FILLER = [
    "新製品の仕様について意見を交換した。",
    "納期は来月末で合意した。",
    "不良率は0.5%に改善した。",
    "次回は2024-07-15に開催する。",
    "見積金額は1,280,000円（税別）。",
    "品番 KX-2040 の在庫を確認する。",
    "ライン3号機の段取り替えに40分を要した。",
    "注文番号 202406180001 で手配済み。",
    "安全パトロールで指摘事項なし。",
    "予算は年間300万円を見込む。",
]

Segment = tuple[str, str | None]  # text, category (None: not personal)


def _phone(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return f"0{rng.choice('789')}0-{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}"
    if kind == 1:
        return f"03-{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}"
    if kind == 2:
        return f"0120-{rng.randrange(100, 999)}-{rng.randrange(100, 999)}"
    if kind == 3:
        digits = f"0{rng.choice('789')}0{rng.randrange(10**7, 10**8)}"
        return digits.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    return f"(06){rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}"


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + (rng.choice(GIVEN) if rng.random() < 0.5 else "")


def _doc(rng: random.Random, n: int) -> list[Segment]:
    p1, p2, p3 = _person(rng), _person(rng), _person(rng)
    co = rng.choice(COMPANIES + CLIENT_LIST)
    co2 = rng.choice(COMPANIES + CLIENT_LIST)
    mail = f"{rng.choice(['sato', 'k.ito', 'info', 'm-ueda'])}{n}@{rng.choice(['example.co.jp', 'corp.example.com'])}"
    segs: list[Segment] = [
        (f"第{n}回 打合せメモ\n出席者：", None),
        (p1, "person"),
        ("、", None),
        (p2, "person"),
        ("（", None),
        (co, "company"),
        ("）\n", None),
        ("記入者：", None),
        (p3, "person"),
        ("\n", None),
        (rng.choice(FILLER) + "\n", None),
        (p2, "person"),
    ]
    segs += [("様より、", None), (co2, "company"), ("の新工場計画について説明があった。\n", None)]
    segs += [
        ("連絡先：", None),
        (_phone(rng), "phone"),
        (" メール ", None),
        (mail, "email"),
        ("\n", None),
    ]
    segs += [
        (rng.choice(FILLER) + "\n", None),
        ("担当：", None),
        (p1, "person"),
        ("さんが見積を作成する。\n", None),
    ]
    if n % 3 == 0:
        segs += [
            ("振込先口座：普通 ", None),
            (f"{rng.randrange(10**6, 10**7)}", "bank_account"),
            ("\n", None),
        ]
    if n % 4 == 0:
        segs += [
            ("送付先 ", None),
            (
                f"〒{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)} 大阪府大阪市北区梅田{rng.randrange(1, 9)}-{rng.randrange(1, 20)}-{rng.randrange(1, 30)}",
                "address",
            ),
            ("\n", None),
        ]
    segs += [(rng.choice(FILLER) + rng.choice(FILLER) + "\n", None)]
    return segs


def corpus(n_docs: int = 40, seed: int = 20240601) -> list[list[Segment]]:
    rng = random.Random(seed)
    return [_doc(rng, n) for n in range(1, n_docs + 1)]


def _text_and_gold(segs: list[Segment]) -> tuple[str, list[tuple[int, int, str]]]:
    pos, gold, parts = 0, [], []
    for text, cat in segs:
        if cat:
            gold.append((pos, pos + len(text), cat))
        parts.append(text)
        pos += len(text)
    return "".join(parts), gold


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("guard-ws")
    (ws / "guard").mkdir()
    (ws / "guard" / "取引先.txt").write_text("\n".join(CLIENT_LIST) + "\n", encoding="utf-8")
    return ws


def measure(settings) -> dict[str, dict[str, float]]:
    """Per category: recall (gold spans fully masked) and precision (masked spans touching gold)."""
    tp_gold: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    tp_pred: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    for segs in corpus():
        text, gold = _text_and_gold(segs)
        spans, _, _ = detect(text, settings)
        covered = bytearray(len(text))
        for s in spans:
            covered[s.start : s.end] = b"\x01" * (s.end - s.start)
            n_pred[s.category] += 1
            if any(g[2] == s.category and s.start < g[1] and g[0] < s.end for g in gold):
                tp_pred[s.category] += 1
        for start, end, cat in gold:
            n_gold[cat] += 1
            if all(covered[start:end]):
                tp_gold[cat] += 1
    return {
        cat: {
            "gold": n_gold[cat],
            "recall": tp_gold[cat] / n_gold[cat] if n_gold[cat] else 1.0,
            "precision": tp_pred[cat] / n_pred[cat] if n_pred[cat] else 1.0,
        }
        for cat in sorted(set(n_gold) | set(n_pred))
    }


def test_recall_and_precision_per_category(workspace: Path):
    figures = measure(load_settings(workspace))
    print("\n" + json.dumps(figures, ensure_ascii=False, indent=1))
    for cat in ("email", "phone", "bank_account", "address"):
        assert figures[cat]["recall"] == 1.0, (cat, figures[cat])
    assert figures["person"]["recall"] >= 0.95, figures["person"]
    assert figures["company"]["recall"] >= 0.95, figures["company"]
    for cat, f in figures.items():
        assert f["precision"] >= 0.85, (cat, f)


# -- end to end: `teichaku run` against an OpenAI-compatible endpoint ---------------------------
def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from teichaku.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _env(endpoint: FakeEndpoint, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEICHAKU_", "OPENAI_"))}
    env.update(OPENAI_BASE_URL=endpoint.base_url, OPENAI_API_KEY="sk-test-not-secret", **extra)
    return env


def _sent(endpoint: FakeEndpoint) -> str:
    return "\n".join(m.get("content") or "" for r in endpoint.requests for m in r["messages"])


@pytest.mark.slow
def test_run_holds_back_personal_data_and_audit_lists_calls(workspace: Path, tmp_path: Path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "guard").mkdir()
    (ws / "guard" / "取引先.txt").write_text("\n".join(CLIENT_LIST) + "\n", encoding="utf-8")
    docs = corpus(n_docs=12, seed=7)
    with FakeEndpoint() as ep:
        env = _env(ep)
        assert _cli(["init", str(ws)], env).returncode == 0
        inbox = ws / "営業部" / "商談議事録" / "受付"
        for i, segs in enumerate(docs):
            (inbox / f"打合せ{i:02d}.txt").write_text(_text_and_gold(segs)[0], encoding="utf-8")
        run = _cli(["run", "--workspace", str(ws)], env)
        assert run.returncode == 0, run.stdout + run.stderr
        sent = _sent(ep)
        n_requests = len(ep.requests)
    assert n_requests >= len(docs)
    leaked: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for segs in docs:
        for value, cat in segs:
            if cat in ("email", "phone"):
                ascii_form = value.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
                assert value not in sent and ascii_form not in sent, value
            if cat in ("person", "company"):
                total[cat] += 1
                leaked[cat] += value in sent
    for cat in ("person", "company"):
        assert 1 - leaked[cat] / total[cat] >= 0.9, (cat, leaked[cat], total[cat])
    # The drafts name them again: no placeholder is left, and real names are back.
    drafts = "\n".join(
        p.read_text(encoding="utf-8")
        for p in (ws / "営業部" / "商談議事録" / "下書き").glob("*.md")
    )
    assert len(list((ws / "営業部" / "商談議事録" / "下書き").glob("*.md"))) == len(docs)
    assert not re.search(r"\[(?:人名|会社|メール|電話)\d+\]", drafts)
    names = {v for segs in docs for v, c in segs if c in ("person", "company")}
    assert sum(name in drafts for name in names) >= len(names) // 2
    # The audit lists every call, with counts and hashes but no values.
    audit = _cli(["audit", "--workspace", str(ws), "--json"], env)
    assert audit.returncode == 0, audit.stderr
    rows = json.loads(audit.stdout)
    assert len(rows) == n_requests
    assert {r["endpoint_host"] for r in rows} == {"127.0.0.1"}
    assert all(r["masked_counts"].get("person") and len(r["sent_sha256"]) == 64 for r in rows)
    assert {r["document"] for r in rows} == {f"打合せ{i:02d}.txt" for i in range(len(docs))}
    for segs in docs:
        for value, cat in segs:
            if cat:
                assert value not in audit.stdout
    table = _cli(["audit", "--workspace", str(ws)], env)
    assert table.returncode == 0 and "監査ログ" in table.stdout


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["block", "local_only"])
def test_confidential_document_never_reaches_external_endpoint(tmp_path: Path, policy: str):
    ws = tmp_path / "ws"
    with FakeEndpoint() as ep:
        env = _env(ep, TEICHAKU_GUARD__DEFAULT_POLICY=policy)
        assert _cli(["init", str(ws)], env).returncode == 0
        inbox = ws / "管理部" / "稟議メモ" / "受付"
        (inbox / "買収検討.txt").write_text(
            "【社外秘】\n件名：買収の検討\n目的：事業拡大のため。費用は5億円。\n", encoding="utf-8"
        )
        run = _cli(["run", "--workspace", str(ws)], env)
        assert run.returncode == 0, run.stdout + run.stderr
        assert ep.requests == []
    if policy == "block":
        found = list((ws / "管理部" / "稟議メモ" / "隔離").glob("*.error.txt"))
        assert found, run.stdout
        text = found[0].read_text(encoding="utf-8")
        assert "社外秘" in text and "AI 処理を行いません" in text
    else:
        drafts = list((ws / "管理部" / "稟議メモ" / "下書き").glob("*.md"))
        assert len(drafts) == 1
        assert "社外の AI には送らず" in drafts[0].read_text(encoding="utf-8")


# -- labelled prose (bench/guard/*.txt), read through `teichaku mask --jsonl` --------------------
@pytest.mark.slow
def test_labelled_prose_is_held_back():
    """The figures the README reports, as floors: encyclopedic and business prose written apart
    from the templates above; the held-apart half was never tuned on."""
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, str(root / "bench" / "guard_recall.py")]
        + [str(root / "bench" / "guard" / name) for name in ("tuning.txt", "held_apart.txt")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=root,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = {f["set"]: f for f in map(json.loads, run.stdout.splitlines())}
    print("\n" + json.dumps(figures, ensure_ascii=False, indent=1))
    for name, person, company in (("tuning.txt", 0.94, 0.95), ("held_apart.txt", 0.94, 0.92)):
        f = figures[name]
        assert f["person_mentions"] >= 90 and f["company_mentions"] >= 90 and f["entity_free"] >= 40
        assert f["person_recall"] >= person, f
        assert f["company_recall"] >= company, f
        assert f["over_masking"] <= 0.10, f
