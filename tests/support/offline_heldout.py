"""A held-apart set for the offline engine: ten documents per built-in spec, written apart from the
samples the engine was tuned on (bench/offline_quality.py measures both; nothing here is used to
tune it). Each document varies the way real ones do: heading style (■, 【】, Markdown, numbered,
「目的：」 labels, none), sentence or bullet form, owners written 「名前：作業（期限 日付）」,
「名前さんが〜する」 or in a table, and its own names, dates, amounts and quantities.

`HELDOUT` is a list of (spec id, file name, text).
"""

from __future__ import annotations

import random

from tests.support.names import SURNAMES

COMPANIES = [
    "北斗精機",
    "みなと物流",
    "青葉化成",
    "東邦パッケージ",
    "さくら電装",
    "丸栄食品",
    "大和テクノ",
    "三光商事",
    "桜井工業",
    "ひかり製薬",
]
# The twelve most common surnames, 田中 first as the set was written (r.choice depends on order).
PEOPLE = [SURNAMES[3], *SURNAMES[:3], *SURNAMES[4:12]]
LINES = ["Aライン", "Bライン", "Cライン", "第1ライン", "第2ライン"]
PRODUCTS = ["ブラケット", "カバー", "ハウジング", "シャフト", "トレー", "ステー"]


def _heading(style: str, i: int, title: str) -> str:
    return {
        "mark": f"■{title}",
        "bracket": f"【{title}】",
        "md": f"## {title}",
        "num": f"{i}. {title}",
        "colon": f"{title}：",
    }[style]


def _doc(style: str, head: str, sections: list[tuple[str, list[str]]], bullets: bool) -> str:
    lines = [f"# {head}" if style == "md" else head, ""]
    for i, (title, body) in enumerate(sections, 1):
        lines.append(_heading(style, i, title))
        lines += [f"・{b}" if bullets else b for b in body]
        lines.append("")
    return "\n".join(lines)


def _date(r: random.Random, month: int | None = None) -> str:
    m = month or r.randint(1, 12)
    return f"{m}月{r.randint(1, 28)}日"


def _minutes(r: random.Random, n: int, style: str) -> tuple[str, str]:
    c, a, b, d = r.choice(COMPANIES), r.choice(PEOPLE), r.choice(PEOPLE), r.choice(PEOPLE)
    qty, rate, price = r.randint(2, 40), r.choice([2.5, 3, 4.5, 6]), r.randint(12, 98) * 1000
    day = f"2026年{r.randint(1, 12)}月{r.randint(1, 28)}日"
    todo = [
        f"{a}：改定見積書の作成（期限 {_date(r)}）",
        f"{b}さんが試作品{qty}個を手配する（{_date(r)}まで）",
        f"{d}：技術資料の送付（期限 {_date(r)}）",
    ]
    sections = [
        (
            "概要",
            [
                f"{c}様と来期の年間契約について協議した。月間発注量は約{qty}万枚で、前年比{rate}%増の見込み。"
            ],
        ),
        ("決定事項", [f"単価は{price:,}円で据え置き。", f"{_date(r)}から試験導入を開始する。"]),
        ("ToDo", todo),
        ("次回", [f"次回打合せは{_date(r)} 14:00から先方本社にて。"]),
    ]
    return f"{day}_{c}_商談メモ_{n}.txt", _doc(
        style, f"商談メモ（{c}様 定例）　{day}", sections, style != "colon"
    )


def _followup(r: random.Random, n: int, style: str) -> tuple[str, str]:
    c, who, me = r.choice(COMPANIES), r.choice(PEOPLE), r.choice(PEOPLE)
    qty, price = r.randint(100, 900), r.randint(3, 40) * 10000
    sections = [
        ("お礼", [f"本日はお忙しいところ{c}様にお時間をいただきありがとうございました。"]),
        (
            "確認事項",
            [f"初回ロットは{qty}個、納期は{_date(r)}で合意。", f"見積金額は{price:,}円（税抜）。"],
        ),
        ("当社の対応", [f"{me}が仕様書を{_date(r)}までに送付する。"]),
        ("お願い", [f"{who}様より図面の最新版を{_date(r)}までにご共有いただく。"]),
        ("次回", [f"{_date(r)} 10:00 オンラインにて。"]),
    ]
    head = f"商談後メモ（{c} {who}様・お礼メール用）"
    return f"{c}_商談後メモ_{n}.txt", _doc(style, head, sections, style in ("mark", "md"))


def _proposal(r: random.Random, n: int, style: str) -> tuple[str, str]:
    c = r.choice(COMPANIES)
    hours, rate, budget = r.randint(20, 120), r.randint(10, 40), r.randint(3, 30) * 100
    sections = [
        (
            "現状の課題",
            [
                f"{c}様では検品を手作業で行い、月{hours}時間を要している。",
                f"不良流出率は{rate / 10}%。",
            ],
        ),
        ("ご要望", [f"{_date(r)}までに自動化の方式を決めたい。"]),
        ("提案の方向性", ["画像検査装置の導入と、検品記録の電子化を組み合わせる。"]),
        ("期待効果", [f"検品工数を{rate}%削減。"]),
        ("予算・スケジュール", [f"予算は{budget}万円以内。", f"{_date(r)}に稼働開始を希望。"]),
        ("未確認事項", ["既存ラインの設置スペース。"]),
    ]
    return f"{c}_ヒアリングメモ_{n}.txt", _doc(
        style, f"ヒアリングメモ（{c}様）", sections, style != "colon"
    )


def _daily(r: random.Random, n: int, style: str) -> tuple[str, str]:
    plan = [r.randint(5, 30) * 100 for _ in range(3)]
    done = [p - r.randint(-50, 150) for p in plan]
    lines_ = r.sample(LINES, 3)
    prods = r.sample(PRODUCTS, 3)
    who = r.choice(PEOPLE)
    day = f"2026年{r.randint(1, 12)}月{r.randint(1, 28)}日"
    rows = [
        f"{ln}（{pr}）：計画{p:,}個、実績{d:,}個"
        for ln, pr, p, d in zip(lines_, prods, plan, done, strict=True)
    ]
    stop = r.randint(10, 70)
    sections = [
        ("生産実績", rows),
        (
            "品質",
            [f"{lines_[0]}：バリ不良{r.randint(2, 20)}個（不良率{r.randint(5, 30) / 10}%）。"],
        ),
        (
            "設備停止",
            [
                f"{lines_[1]} 13:{r.randint(10, 50)}〜14:{r.randint(10, 50)}（{stop}分）搬送コンベア停止。{who}さんが対応。"
            ],
        ),
        ("安全", ["ヒヤリハット1件：通路でフォークリフトと接近。"]),
        ("引継ぎ", [f"{lines_[2]}の遅れ{r.randint(20, 90)}個は翌日の日勤で挽回予定。"]),
    ]
    head = f"製造日報（第{n % 3 + 1}製造課 日勤）　{day}"
    return f"製造日報_{n}.txt", _doc(style, head, sections, style != "colon")


def _handover(r: random.Random, n: int, style: str) -> tuple[str, str]:
    a, b, c = r.sample(PEOPLE, 3)
    sections = [
        ("概要", [f"{_date(r)}付で{a}から{b}へプレス工程の工程管理を引き継ぐ。"]),
        (
            "進行中の業務",
            [
                f"金型更新：{c}さんが{_date(r)}までに見積取得（{r.randint(2, 9)}社）。",
                f"在庫棚卸：{_date(r)}実施、対象{r.randint(100, 900)}品目。",
            ],
        ),
        ("注意点", [f"プレス3号機は{r.randint(200, 900)}ショットごとに給油する。"]),
        ("未決事項", [f"外注費{r.randint(20, 90)}万円の予算承認待ち。"]),
        ("連絡先", [f"保全課 {c}（内線{r.randint(1000, 9999)}）"]),
    ]
    return f"引継ぎメモ_{n}.txt", _doc(
        style, f"業務メモ（プレス工程 {a}→{b}）", sections, style != "colon"
    )


def _ringi(r: random.Random, n: int, style: str) -> tuple[str, str]:
    init, monthly, units = r.randint(20, 300) * 10000, r.randint(100, 900) * 100, r.randint(5, 300)
    what = r.choice(
        ["経費精算システム", "電子契約サービス", "Web会議端末", "在庫管理システム", "勤怠打刻端末"]
    )
    sections = [
        ("件名", [f"{what}の導入について"]),
        ("目的", [f"紙の処理を{what}に置き換え、月次の処理工数を削減する。"]),
        (
            "背景",
            [f"現在{units}名分の申請を手作業で処理し、月{r.randint(10, 80)}時間を要している。"],
        ),
        ("費用", [f"初期費用：{init:,}円", f"月額利用料：{monthly:,}円（年額{monthly * 12:,}円）"]),
        ("期待効果", [f"処理時間を月{r.randint(5, 40)}時間削減できる見込み。"]),
        ("リスク", ["導入初月は旧運用との並行となる。"]),
        ("代替案", [f"A案：現行運用の改善（費用{r.randint(10, 90)}万円）。"]),
        ("スケジュール", [f"2027年{r.randint(1, 6)}月契約、{r.randint(7, 12)}月本稼働。"]),
        ("決裁事項", [f"上記の導入と初期費用{init:,}円の支出の承認をお願いしたい。"]),
    ]
    return f"稟議メモ_{n}.txt", _doc(
        style, f"稟議メモ（起案：総務課 {r.choice(PEOPLE)}）", sections, style != "colon"
    )


def _faq(r: random.Random, n: int, style: str) -> tuple[str, str]:
    days, hours = r.randint(1, 10), r.randint(2, 8)
    topic = r.choice(["慶弔休暇", "出張旅費", "在宅勤務手当", "資格取得補助", "育児短時間勤務"])
    sections = [
        ("質問", [f"{topic}の日数（金額）と申請方法を教えてください。"]),
        (
            "規程の抜粋",
            [
                f"第{r.randint(5, 40)}条 {topic}は年{days}日（上限{r.randint(1, 9) * 10000:,}円）とする。",
                f"申請は事由発生から{hours}営業日以内に行う。",
            ],
        ),
        ("補足", [f"{_date(r)}改定。問い合わせは総務課（内線{r.randint(1000, 9999)}）。"]),
    ]
    return f"問い合わせ_{topic}_{n}.md", _doc(
        style, f"社内問い合わせ：{topic}", sections, style != "colon"
    )


def _job(r: random.Random, n: int, style: str) -> tuple[str, str]:
    low, high = r.randint(40, 60) * 10, r.randint(61, 90) * 10
    sections = [
        ("募集職種", [r.choice(["法人営業", "生産技術", "経理", "品質保証"]) + "（リーダー候補）"]),
        ("業務内容", [f"既存顧客{r.randint(10, 60)}社の担当と新規開拓。"]),
        ("必須要件", [f"実務経験{r.randint(2, 8)}年以上。"]),
        ("待遇", [f"年収{low}万円〜{high}万円。", f"年間休日{r.randint(115, 130)}日。"]),
        ("採用予定", [f"{r.randint(1, 3)}名、{_date(r)}入社希望。"]),
    ]
    return f"人材要件メモ_{n}.md", _doc(style, "人材要件メモ", sections, style != "colon")


_MAKERS = {
    "sales/meeting_minutes": _minutes,
    "sales/followup_mail": _followup,
    "sales/proposal_outline": _proposal,
    "manufacturing/daily_report": _daily,
    "manufacturing/handover_note": _handover,
    "admin/ringi": _ringi,
    "admin/faq_answer": _faq,
    "hr/job_posting": _job,
}
_STYLES = ["mark", "bracket", "md", "num", "colon"]


def build(per_spec: int = 10, seed: int = 20261130) -> list[tuple[str, str, str]]:
    r = random.Random(seed)
    out = []
    for spec_id, make in _MAKERS.items():
        for n in range(per_spec):
            name, text = make(r, n, _STYLES[n % len(_STYLES)])
            out.append((spec_id, name, text))
    return out


HELDOUT = build()
