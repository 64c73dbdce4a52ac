"""Realistic-length documents for the benchmark: 500-1,500 characters, the inboxes' format mix.

Short meeting notes, daily reports, ringi memos, hiring memos and handover notes as people write
them: a header, attendees with 様/さん, clients with and without their legal form, prose that
names people in passing, figures, dates and a table in the Word files. Every name, company and
figure is made up. Each document differs (its number is in the text), so every one costs a
model call. The client list (guard/取引先.txt) holds the clients the way a company keeps it, so
the guard's list signal works as in life; some companies in the text are not on it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.support import builders
from tests.support.names import GIVEN, SURNAMES

CLIENTS = (
    "株式会社北斗精機",
    "ミナト物産株式会社",
    "東和商事株式会社",
    "株式会社ひかり精工",
    "大和運輸株式会社",
    "有限会社丸一製作所",
    "株式会社サンライズ食品",
    "三協電機工業株式会社",
)
# In the text but not on the client list: the names and NER must find these themselves.
OTHERS = (
    "株式会社青葉システム",
    "グリーンテック合同会社",
    "中央化成株式会社",
    "株式会社ミライ物流",
)
PRODUCTS = ("KX-2000", "HM-15", "制御盤ユニット", "搬送コンベア", "検査装置 VX", "包装機 P7")


def _person(i: int, k: int) -> str:
    return SURNAMES[(i * 7 + k * 13) % len(SURNAMES)] + GIVEN[(i * 3 + k * 5) % len(GIVEN)]


def _surname(i: int, k: int) -> str:
    return SURNAMES[(i * 11 + k * 17 + 5) % len(SURNAMES)]


def _vars(i: int) -> dict[str, str | int]:
    return {
        "i": i,
        "p0": _person(i, 0),
        "p1": _person(i, 1),
        "p2": _person(i, 2),
        "s0": _surname(i, 0),
        "s1": _surname(i, 1),
        "s2": _surname(i, 2),
        "c0": CLIENTS[i % len(CLIENTS)],
        "c1": CLIENTS[(i + 3) % len(CLIENTS)],
        "c0short": CLIENTS[i % len(CLIENTS)].replace("株式会社", "").replace("有限会社", ""),
        "o0": OTHERS[i % len(OTHERS)],
        "prod": PRODUCTS[i % len(PRODUCTS)],
        "d": 1 + i % 28,
        "m": 1 + i % 12,
        "qty": 100 + i % 400,
        "yen": f"{(120 + i % 900) * 1000:,}",
        "pct": 2 + i % 9,
        "mins": 10 + i % 50,
    }


# Paragraphs per spec: the first is the header; the rest are used in turn until the length is reached.
_PARAS: dict[str, tuple[str, ...]] = {
    "sales/meeting_minutes": (
        "商談メモ No.{i}\n日時：2026年{m}月{d}日 14:00〜15:30　場所：{c0} 本社会議室\n"
        "出席者：{c0} 購買部 {p0}様、製造部 {s1}様／当社 営業二課 {p1}、技術 {s2}",
        "1. 経緯\n前回の打合せで提示した{prod}の見積について、先方から数量と納期の再確認があった。"
        "{s1}様によると、来期は月{qty}台規模での発注を社内で検討しており、年明けに稟議を上げる予定とのこと。",
        "2. 価格\n価格は前回提示から{pct}%の値下げを希望された。当社{p1}からは、数量が確定すれば"
        "部材の一括手配で対応できる可能性があると回答。ただし銅価格の動向次第で再見積もありうる旨を伝えた。",
        "3. 競合\n{o0}も同等品で提案しているとのこと。先方の評価は「納期は{o0}、品質は当社」。"
        "{s2}から、保守体制と部品の供給年数（10年）を説明したところ、{p0}様は関心を示された。",
        "4. 決定事項\n・改訂見積を{m}月{d}日までに提出する（担当：{p1}）\n"
        "・サンプル2台を先方工場へ貸し出す（担当：{s2}、搬入は{c1}経由）",
        "5. 宿題・次回\n・納期回答（標準8週→6週の可否）を生産管理と調整する\n"
        "・次回打合せは翌週水曜の午後で仮押さえ。{s1}様から品質保証部の方も同席予定と連絡あり。",
        "所感\n先方は値下げよりも納期の確実さを重視している印象。{p1}としては、分納案を併記した"
        "見積で{o0}との差をつけたい。金額は税抜{yen}円を上限に社内で相談する。",
    ),
    "manufacturing/daily_report": (
        "製造日報 No.{i}　2026年{m}月{d}日（第2製造課）\n記入者：{p0}　班長：{s1}　確認：{p2}",
        "生産実績\n・{prod}：{qty}個（計画 450個、達成率 {pct}0%台）\n・段取り替え2回（品番切替のため）\n"
        "・不良 {pct}個：外観キズ{pct}個、寸法外れ0個。キズは搬送時の接触と推定。",
        "設備\nライン2の位置決めセンサーが午前に2回誤検知し、計{mins}分停止した。保全の{s2}さんが"
        "センサーを交換して復旧。予備品は残り1個のため、購買へ追加手配を依頼済み（{c1}へ発注）。",
        "品質\n午後の抜取り検査で、トルク値のばらつきが規格上限寄りに出ている。{s1}班長の指示で"
        "締付け工具の校正を前倒しし、明日朝一で確認する。客先{c0short}向けロットには影響なし。",
        "安全\nヒヤリハット1件：通路に台車が置かれたままで、フォークリフトと接触しそうになった。"
        "置き場の白線を引き直し、朝礼で周知する（担当：{p0}）。",
        "引継ぎ\n夜勤の{s2}さんへ：治具3番の点検、材料ロット{i}の残数確認、ライン2のセンサー"
        "再発時は保全へ連絡（内線 2{d:02d}）。",
    ),
    "admin/ringi": (
        "稟議メモ（下書き） 管理-{i}\n申請者：{p0}（管理部 総務課）　決裁者：{s1}部長\n"
        "件名：{c0}との複合機リース契約更新について",
        "1. 目的\n現行の複合機（{qty}台中{pct}台が7年目）は故障が増えており、先月だけで保守の"
        "出張対応が{pct}回あった。リース満了に合わせて新機種へ入れ替え、保守費と停止時間を減らしたい。",
        "2. 内容\n{c0}の提案：月額{yen}円（税抜）、5年リース、保守込み。比較として{o0}からも"
        "見積を取得しており、月額は約{pct}%高いが、カラー単価が安い。総額では{c0}案が有利。",
        "3. 効果\n保守費の削減（年間 約{qty}万円）、印刷速度の向上、ICカード認証による"
        "放置プリントの削減。{s2}課長（情報システム）から、認証連携は既存の入退室カードで可能と確認済み。",
        "4. リスクと対策\n切替時に各フロア半日の停止が出る。土曜に作業し、{p1}が立ち会う。"
        "旧機のハードディスクは{c1}にデータ消去を依頼し、消去証明書を受け取る。",
        "5. スケジュール\n{m}月中に決裁、翌月{d}日に納品・設置、月末に旧機返却。契約書の"
        "リーガルチェックは法務の{s0}さんに依頼済み。",
    ),
    "hr/job_posting": (
        "採用メモ {i}　生産技術エンジニア（中途）\n作成：人事部 {p0}　依頼元：製造部 {s1}課長\n"
        "面接官：{p1}、{s2}",
        "背景\n製造部では{prod}ラインの自動化を進めており、設備の立上げと改善を担える人が不足している。"
        "昨年度は外部の{o0}に設計を委託したが、社内にノウハウが残らなかったとの声が{s1}課長からあった。",
        "募集要件\n・必須：設備保全または生産技術の実務経験3年以上、図面が読めること\n"
        "・歓迎：PLC（三菱・オムロン）のラダー、画像検査の立上げ経験\n・人数：{pct}名、勤務地：本社工場",
        "条件\n年収{qty}万円〜（経験により決定）、賞与年2回、夜勤なし。転居を伴う場合は社宅あり。"
        "紹介会社は{c1}の人材部門を第一候補とし、手数料は理論年収の{pct}0%以内で交渉する。",
        "選考の流れ\n書類選考（{p0}）→ 一次面接（{p1}・{s2}）→ 工場見学と二次面接（{s1}課長）。"
        "{m}月{d}日までに求人票を公開し、翌月中に内定を出したい。",
        "メモ\n前回の応募者{s0}さん（辞退）は通勤距離が理由だった。今回は在宅の設計作業を週1日まで"
        "認める案を部長に相談中。",
    ),
    "manufacturing/handover_note": (
        "引継ぎメモ {i}　プレス工程（日勤→夜勤）\n記入：{p0}　受け：{p2}　2026年{m}月{d}日",
        "生産状況\n{prod}の金型を午後に交換し、{qty}ショットまで問題なし。客先{c0short}向けの特急品は"
        "残り{pct}0個で、夜勤中に完了予定。完了したら出荷場の{s1}さんへ連絡してください。",
        "注意点\n・2号機の油圧が時々下がる（警報は出ていない）。下がったら一度止めて保全の{s2}さんへ\n"
        "・材料はロット{i}を使用中。残り{pct}束で、次ロットは倉庫の棚B-{d}にあります。",
        "品質\nバリが出やすいので、1時間ごとに5個抜き取って確認をお願いします。不具合が出たら"
        "品証の{s0}さん（不在なら{p1}）に写真を送ってください。",
        "その他\n{c1}の配送が明朝7時に来ます。受入れの立会いは早番の{s1}さんに頼んであります。",
    ),
}
SPEC_IDS = tuple(_PARAS)
CLIENT_LIST = "\n".join(["# 取引先（営業管理より）", *CLIENTS]) + "\n"


def target_length(i: int) -> int:
    """500-1,500 characters, about 830 on average: short notes outnumber long memos (the
    smaller of two spread draws, so lengths thin out towards 1,500)."""
    return 500 + min((i * 7919) % 1000, (i * 104729 + 500) % 1000)


def document_paragraphs(i: int, spec_id: str) -> list[str]:
    """The header and then the spec's paragraphs in turn, with new figures each round, until
    the document reaches its target length (never over 1,500 characters)."""
    paras = _PARAS[spec_id]
    values = _vars(i)
    out = [paras[0].format(**values)]
    size, k = len(out[0]), 0
    target = target_length(i)
    while size < target:
        body = paras[1 + k % (len(paras) - 1)]
        round_values = values if k < len(paras) - 1 else _vars(i + 1000 * (k + 1))
        para = body.format(**{**round_values, "i": i})
        if size + len(para) > 1500:
            break
        out.append(para)
        size += len(para) + 2
        k += 1
    return out


def file_name(i: int, spec_id: str, kind: str) -> str:
    """Names as people save them: date, client or subject, document type, and the number."""
    client = CLIENTS[i % len(CLIENTS)].replace("株式会社", "").replace("有限会社", "")
    label = {
        "sales/meeting_minutes": f"{client}_商談メモ",
        "manufacturing/daily_report": "製造日報",
        "admin/ringi": "稟議_複合機リース",
        "hr/job_posting": "採用メモ_生産技術",
        "manufacturing/handover_note": "引継ぎ_プレス",
    }[spec_id]
    return f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}_{label}_{i:05d}.{kind}"


def _pdf_pages(paras: list[str]) -> list[str]:
    """Lines wrapped to the page's width (~42 full-width characters), 40 lines a page."""
    lines = [w for p in paras for line in p.split("\n") for w in textwrap.wrap(line, 42) or [""]]
    return ["\n".join(lines[k : k + 40]) for k in range(0, len(lines), 40)]


def write_document(inbox: Path, i: int, spec_id: str, kind: str) -> Path:
    """Document number `i` for `spec_id` as docx (a table for the figures), pdf, txt or md."""
    paras = document_paragraphs(i, spec_id)
    path = inbox / file_name(i, spec_id, kind)
    if kind == "docx":
        head, *rest = paras
        table = [["項目", "内容"], ["文書番号", str(i)], ["作成者", _person(i, 0)]]
        return builders.make_docx(path, [*head.split("\n"), table, *rest])
    if kind == "pdf":
        return builders.make_pdf(path, _pdf_pages(paras))
    if kind == "md":
        head, *rest = paras
        md = [f"# {head.splitlines()[0]}", *head.splitlines()[1:]]
        for p in rest:
            title, _, body = p.partition("\n")
            md += ["", f"## {title}", body] if body else ["", title]
        return builders.make_text(path, "\n".join(md) + "\n")
    return builders.make_text(path, "\n\n".join(paras) + "\n")


def kind_for(i: int) -> str:
    """About 3/8 docx, 1/4 PDF, 1/4 text, 1/8 Markdown: what the shares hold."""
    return ("docx", "pdf", "txt", "docx", "md", "docx", "pdf", "txt")[i % 8]


def spec_for(i: int) -> str:
    return SPEC_IDS[i % len(SPEC_IDS)]
