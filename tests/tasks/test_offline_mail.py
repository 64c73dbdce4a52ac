"""The offline engine's follow-up mail (宛名, greeting, thanks with the meeting's date, closing,
signature) and documents whose headings are plain lines, drafted and rendered as a user gets them."""

from __future__ import annotations

import re
from pathlib import Path

from core.examples import draft_meta
from core.specs import load_specs
from tasks.generate import OfflineEngine
from tasks.render import render_markdown
from tests.support.samples import SAMPLES

SPECS = {s.spec.id: s.spec for s in load_specs(None)}


def _mail() -> tuple[dict, str]:
    sample = SAMPLES["sales/followup_mail"][0]
    spec = SPECS["sales/followup_mail"]
    out = OfflineEngine().generate(spec, sample.text(), file_name=sample.filename).output
    return out, render_markdown(spec, out, draft_meta(spec, source=sample.filename))


def test_followup_mail_is_shaped_as_a_mail() -> None:
    out, md = _mail()
    addressee, greeting, thanks = out["opening"].split("\n")
    assert addressee == "株式会社ABC商事 購買部 佐々木部長、木村様"
    assert greeting == "いつもお世話になっております。【自社名】の【氏名】です。"
    # The thanks names the meeting, from the memo's own date line and sentence.
    assert thanks.startswith("2026年11月27日（金）14:00〜15:00のお打ち合わせでは、")
    assert "試作品評価と来期の契約条件" in thanks and "お礼を伝える" not in thanks
    assert out["closing"] == "引き続きよろしくお願いいたします。"
    assert out["signature"] == "【署名】"
    # In the draft, in a mail's order: 宛名, greeting, thanks, body, closing, signature.
    order = [
        addressee,
        greeting,
        "心より御礼申し上げます",
        "試験採用することで合意した",
        "12月15日",
        out["closing"],
        out["signature"],
    ]
    positions = [md.index(x) for x in order]
    assert positions == sorted(positions), positions
    # The sales person's internal note (the 3% discount ceiling) stays out of the mail.
    assert "3%まで" not in md and "値引きの上限" not in md


def test_mail_from_a_memo_without_sections_of_its_own() -> None:
    memo = (
        "# 商談後メモ：みなと物流株式会社 物流企画部 井上様\n\n"
        "日時：2026年11月19日（木）16:00〜17:00\n\n"
        "お礼：倉庫の見学にお時間をいただいたことへのお礼。\n"
        "確認事項：\n・保管ラック120台を2027年3月までに更新することで合意した。\n"
        "次回：2026年12月4日（金）11:00からオンラインで見積のご説明。\n"
        "社内メモ：原価は1台31,000円（メールには書かない）。\n"
    )
    out = OfflineEngine().generate(SPECS["sales/followup_mail"], memo, file_name="m.md").output
    lines = out["opening"].split("\n")
    assert lines[0] == "みなと物流株式会社 物流企画部 井上様"
    assert lines[2].startswith("2026年11月19日（木）16:00〜17:00のお打ち合わせでは、")
    assert out["next_meeting"] == "2026年12月4日（金）11:00からオンラインで見積のご説明。"
    assert "31,000円" not in str(out)


PLAIN = (
    "稟議メモ（提案書作成支援ツールの導入・XYZ株式会社様）\n"
    "件名：提案書作成支援ツールの導入について\n"
    "背景\n"
    "営業部では提案書1件の作成に平均6時間かかっており、月40件のうち12件が締切に間に合っていない。\n"
    "目的\n"
    "提案書のひな形と過去事例の検索をまとめ、作成時間を半分にする。\n"
    "費用\n"
    "・ライセンス：月2,500円×30名＝75,000円\n"
    "・初期設定：200,000円\n"
    "経緯\n"
    "昨年度に別ツールを試したが、定着しなかった。\n"
    "スケジュール\n"
    "2027年2月契約、4月本稼働の予定。\n"
    "承認をお願いしたい事項\n"
    "上記ツールの導入と初年度費用1,100,000円の支出について承認をお願いしたい。\n"
)
HEADINGS = ("背景", "目的", "費用", "経緯", "スケジュール", "承認をお願いしたい事項")


def _values(out: dict) -> list[str]:
    vals: list[str] = []
    for v in out.values():
        items = v if isinstance(v, list) else [v]
        for item in items:
            vals += list(item.values()) if isinstance(item, dict) else [item]
    return [v for v in vals if v]


def test_plain_line_headings_are_never_glued_into_sentences() -> None:
    out = OfflineEngine().generate(SPECS["admin/ringi"], PLAIN, file_name="r.txt").output
    assert out["background"].startswith("営業部では提案書1件")
    assert out["purpose"] == "提案書のひな形と過去事例の検索をまとめ、作成時間を半分にする。"
    assert out["cost"] == ["ライセンス：月2,500円×30名＝75,000円", "初期設定：200,000円"]
    assert out["schedule"] == "2027年2月契約、4月本稼働の予定。"
    assert "承認をお願いしたい" in out["approval_request"]
    for value in _values(out):
        for line in value.splitlines():
            for h in HEADINGS:
                # A heading glued to a sentence: 「…株式会社様）背景」 or 「予定。承認をお願いしたい事項」.
                assert not re.search(rf"(?:[。）)]{h}|{h}[^、。をの]*。?$)", line) or line == h, (
                    h,
                    line,
                )
            assert not line.endswith(HEADINGS)


def test_plain_headings_in_the_rendered_draft(tmp_path: Path) -> None:
    spec = SPECS["admin/ringi"]
    out = OfflineEngine().generate(spec, PLAIN, file_name="r.txt").output
    md = render_markdown(spec, out, draft_meta(spec, source="r.txt"))
    assert "様）背景" not in md and "予定。承認" not in md and "様）件名" not in md


def test_short_unbulleted_items_stay_items() -> None:
    text = (
        "ヒアリングメモ\n【提案書の構成案】\n現状の課題の整理\n提案の全体像\n導入効果の試算\n"
        "【確認が必要な事項】\n・設置スペースの寸法を確認する。\n"
    )
    out = OfflineEngine().generate(SPECS["sales/proposal_outline"], text, file_name="p.txt").output
    assert out["outline"] == ["現状の課題の整理", "提案の全体像", "導入効果の試算"]


def test_faq_without_headings_does_not_repeat_itself() -> None:
    text = (
        "社内問い合わせ：在宅勤務の交通費について\n受付：2026年10月6日\n"
        "在宅勤務の日が週3日ある場合、通勤手当はどうなりますか。\n"
        "回答としては、在宅勤務が月12日以上の月は、通勤手当を実費精算に切り替えます。\n"
        "手続きは、勤怠システムで在宅勤務日を登録し、月末に交通費精算を申請する。\n"
        "窓口は人事部 給与担当です。\n"
    )
    out = OfflineEngine().generate(SPECS["admin/faq_answer"], text, file_name="f.txt").output
    assert out["answer"].startswith("回答としては")
    assert out["contact"] == "窓口は人事部 給与担当です。"
    values = _values(out)
    sentences = [s for v in values for s in re.findall(r"[^。]+。", v)]
    assert len(sentences) == len(set(sentences)), sentences
    assert sum(len(v) for v in values) < len(text)
