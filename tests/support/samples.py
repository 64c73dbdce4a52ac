"""The source of the built-in specs' example inputs, and the builders that write them.

The inputs themselves are committed in `prompt_specs/<dept>/<doc>.examples/` (one set that the
demo, the catalogue, `specs test` and the tests all use); this module is how they were made.
After changing a sample here, write them again and commit the files:

    .venv/bin/python -m tests.support.samples

Every name, company, address and number below is fictional: e-mail addresses use example.com
and telephone numbers the unassigned 03-0000-xxxx block, so a demo can never leak anything real.
Each built-in spec gets its sample in a different file format, so one demo run exercises every
reader (docx with a table, PDF with CID fonts, Shift_JIS text, Markdown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from core.examples import copy_example_inputs, examples_dir
from core.specs import load_specs

# A block is a paragraph (str) or a table (rows of cells, the first row being the header).
Table = list[list[str]]
Block = str | Table

_EAST_ASIAN_FONT = "Yu Gothic"
_PDF_FONT = "HeiseiKakuGo-W5"
_FIXED_TIME = datetime(2026, 11, 1, 9, 0, 0)


@dataclass(frozen=True)
class Sample:
    filename: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    encoding: str = "utf-8"  # only used for .txt / .md

    @property
    def suffix(self) -> str:
        return Path(self.filename).suffix.lower()

    def text(self) -> str:
        """Plain text in reading order, tables as `cell | cell` rows (what a reader would extract)."""
        lines = [self.title]
        for block in self.blocks:
            if isinstance(block, str):
                lines.append(block)
            else:
                lines.extend(" | ".join(cell for cell in row) for row in block)
        return "\n".join(lines) + "\n"

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        for block in self.blocks:
            if isinstance(block, str):
                lines.extend([block, ""])
            else:
                header, *rows = block
                lines.append("| " + " | ".join(header) + " |")
                lines.append("|" + "---|" * len(header))
                lines.extend("| " + " | ".join(r) + " |" for r in rows)
                lines.append("")
        return "\n".join(lines)


_SALES = Sample(
    filename="2026-11-27_ABC商事_定例商談.docx",
    title="商談議事録（株式会社ABC商事 定例商談）",
    blocks=[
        "日時：2026年11月27日（金）14:00〜15:00",
        "場所：株式会社ABC商事 本社 第3会議室（オンライン併用）",
        "出席者：株式会社ABC商事 購買部 佐々木部長、木村様／当社 営業部 山田太郎、鈴木一郎",
        "記録：鈴木一郎",
        "【商談の目的】",
        "来期（2027年度）の包装資材の年間契約条件の確認と、新製品「エコパックS」の採用可否の協議。",
        "【議事内容】",
        "・ABC商事様より、来期の発注量は今期比で約10%増（月間約12万枚）の見込みとの説明があった。",
        "・当社より、エコパックSの試作品を提示し、強度試験の結果（従来品比105%）を説明した。",
        "・先方から、単価の値上げは現行比3%以内に抑えてほしいとの要望があった。",
        "・物流面では、月2回の定期便を月4回に増やす案について意見交換した。",
        "【決定事項】",
        "・エコパックSを2027年1月から第1工場の一部ラインで試験採用することで合意した。",
        "・来期の年間契約の単価改定は、現行比2.5%の値上げで双方承認した。",
        "・定期便は2027年1月より月3回とすることに決定。",
        "【ToDo】",
        [
            ["No.", "内容", "担当", "期限"],
            ["1", "改定単価を反映した見積書の提出", "山田", "12月4日(金)"],
            ["2", "エコパックSの試験用サンプル500枚の手配", "鈴木", "11月30日"],
            ["3", "試験採用ラインの選定と先方担当者の連絡", "ABC商事 木村様", "12月10日"],
            ["4", "定期便の配送スケジュール案の作成", "物流課 田中", "来週月曜"],
        ],
        "その他：佐々木部長から、年明けに品質保証部も交えた打ち合わせを開きたいとの依頼があり、山田さんが日程調整を行う（今月中）。",
        "【次回予定】",
        "・次回商談は2026年12月15日（火）10:00から当社本社にて。試験採用の進捗と見積書の最終確認を行う。",
        "・品質保証部との打ち合わせ日程は別途調整する。",
        "【連絡先】",
        "営業部 山田太郎 yamada@example.com ／ 03-0000-5678",
    ],
)

_MANUFACTURING = Sample(
    filename="2026-11-26_第2製造課_日勤_製造日報.pdf",
    title="製造日報（第2製造課 プレス・溶接ライン）",
    blocks=[
        "日付：2026年11月26日（木）　勤務：日勤（8:00〜17:00）",
        "記入者：班長 佐藤健一　確認者：課長 伊藤誠",
        "【生産実績】",
        "・Aライン（ブラケットB-12）：計画 1,200個／実績 1,130個／達成率 94.2%",
        "・Bライン（ステーS-30）：計画 800個／実績 812個／達成率 101.5%",
        "・Cライン（カバーC-05）：計画 500個／実績 430個／達成率 86.0%",
        "【品質・不良】",
        "・Aライン：バリ不良 18個（不良率1.6%）。金型のエッジ摩耗が原因と推定。全数選別済み。",
        "・Cライン：溶接ピンホール 6個。手直しにて対応済み。",
        "【設備停止・トラブル】",
        "・Aライン 10:20〜10:55（35分）送り装置のセンサー異常により停止。センサー清掃で復旧。",
        "・Cライン 13:40〜14:50（70分）溶接ロボットのアラーム（E-231）で停止。保全課 田中さんが対応し、ワイヤ送給部を交換。",
        "【安全】",
        "・ヒヤリハット1件：Bライン付近の通路でフォークリフトと作業者が接近。通路表示を再確認し、明日の朝礼で周知する。",
        "・休業災害・不休災害ともになし。",
        "【引き継ぎ事項】",
        "・Aライン金型のエッジ摩耗：夜勤で研磨予定。研磨後は初品検査を必ず実施すること。",
        "・Cラインの遅れ70個分は明日の日勤で挽回予定（残業1時間を申請済み）。",
        "・溶接ワイヤの在庫が残り2巻。11月28日までに資材課へ発注を依頼する（担当：佐藤）。",
        "【所感】",
        "全体の達成率は94.9%（計画2,500個に対し実績2,372個）。"
        "Cラインの設備停止が未達の主な原因である。"
        "溶接ロボットのアラームは今月3回目のため、保全課に定期点検の前倒しを相談したい。",
        "連絡先：第2製造課 内線 03-0000-2468",
    ],
)

_ADMIN = Sample(
    filename="2026-11-20_勤怠管理システム導入_稟議メモ.txt",
    title="稟議メモ（起案用）",
    encoding="cp932",
    blocks=[
        "起案：管理部 総務課 鈴木花子　2026年11月20日",
        "件名：勤怠管理システムのクラウド移行について",
        "■目的",
        "紙のタイムカードとExcel集計で行っている勤怠管理をクラウド型の勤怠管理システムに移行し、"
        "月次締め作業の工数削減と労働時間の適正な管理を図る。",
        "■背景・現状の課題",
        "・現在、従業員180名分のタイムカードを総務課2名が毎月手作業で集計しており、締め作業に月あたり約40時間かかっている。",
        "・集計ミスによる給与の修正が直近1年で7件発生した。",
        "・残業時間の上限管理のため、月の途中で各人の残業時間を把握できる仕組みが求められている。",
        "■費用",
        "・初期費用：550,000円（導入設定・データ移行・操作研修を含む）",
        "・月額利用料：1名あたり300円×180名＝54,000円（年額648,000円）",
        "・ICカードリーダー6台：計180,000円",
        "・初年度合計：1,378,000円（税抜）",
        "■期待効果",
        "・月次締め作業を約40時間から約8時間に削減できる見込み（年間約384時間、人件費換算で約115万円）。",
        "・残業時間をリアルタイムで把握でき、上限超過を事前に防止できる。",
        "・集計ミスによる給与修正がなくなる。",
        "■リスク・懸念点",
        "・導入初月は紙との並行運用となり、一時的に総務課の作業が増える。",
        "・打刻漏れが増えるおそれがあるため、各部署の管理職への周知が必要。",
        "・サービス停止時の代替手段（紙の打刻表）を用意しておく必要がある。",
        "■代替案・比較検討",
        "・A案：現行のExcel集計をマクロで改善する。費用は小さいが、残業時間のリアルタイム把握ができない。",
        "・B案：オンプレミス型システムを導入する。初期費用が約320万円と高額で、社内に保守要員も必要となる。",
        "・以上から、本件（クラウド型）を推奨する。",
        "■スケジュール",
        "2027年1月契約、2月設定・研修、3月並行運用、4月本稼働の予定。",
        "■承認をお願いしたい事項",
        "上記システムの導入、および初年度費用1,378,000円（税抜）の支出について承認をお願いしたい。",
        "問い合わせ：総務課 soumu@example.com ／ 03-0000-1122",
    ],
)

_HR = Sample(
    filename="2026-11-18_法人営業リーダー候補_人材要件メモ.md",
    title="人材要件メモ：法人営業（リーダー候補）",
    blocks=[
        "作成：人事部 採用担当 高橋美咲／ヒアリング先：営業部 部長 山田太郎　作成日：2026年11月18日",
        "## 募集背景",
        "関西エリアでの新規取引先の増加に伴い、大阪営業所の体制を強化したい。"
        "現在の営業所メンバーは5名で、来期は8名体制を目指す。",
        "## ポジション",
        "- 募集職種：法人営業（リーダー候補）\n- 配属：営業部 大阪営業所\n- 採用人数：2名",
        "## 期待する役割",
        "既存顧客（約120社）へのルート営業に加え、新規開拓の中心を担ってもらう。"
        "1年後を目途に、3名程度のチームのリーダーを任せたい。",
        "## 仕事内容",
        "- 製造業の顧客への包装資材の提案営業（既存7割・新規3割）\n"
        "- 見積書・提案書の作成、価格交渉\n"
        "- 工場・物流部門と連携した納期調整\n"
        "- 営業所の若手メンバーへの同行指導",
        "## 必須要件",
        "- 法人営業の経験3年以上（業界不問）\n"
        "- 普通自動車第一種運転免許（AT限定可）\n"
        "- Excel・PowerPointでの資料作成経験",
        "## 歓迎要件",
        "- 包装資材・印刷・化学品などBtoBメーカーでの営業経験\n"
        "- チームリーダーまたはOJT担当の経験\n"
        "- 関西エリアの土地勘",
        "## 勤務条件",
        "- 勤務地：大阪府大阪市北区（大阪営業所）\n"
        "- 雇用形態：正社員（試用期間3か月）\n"
        "- 給与：年収450万円～600万円（経験・能力を考慮して決定）\n"
        "- 勤務時間：9:00～17:30（休憩60分）\n"
        "- 休日：土日祝、年末年始、夏季休暇（年間休日125日）",
        "## アピールポイント",
        "- 既存顧客からの紹介案件が多く、新規開拓に取り組みやすい環境\n"
        "- 2025年度の大阪営業所の売上は前年比112%と成長中\n"
        "- 社用車・社用スマートフォン貸与、資格取得支援制度あり",
        "## 選考・連絡先",
        "書類選考の後、面接2回（1回目：営業部長、2回目：役員）。",
        "問い合わせ：人事部 採用担当 saiyo@example.com ／ 03-0000-1234",
    ],
)

_FOLLOWUP = Sample(
    filename="2026-11-27_ABC商事_商談後メモ.txt",
    title="商談後メモ（株式会社ABC商事 定例商談・お礼メール用）",
    blocks=[
        "日時：2026年11月27日（金）14:00〜15:00　先方：購買部 佐々木部長、木村様",
        "件名：本日の定例商談のお礼と確認事項のご連絡",
        "【お礼】",
        "お忙しいところ、エコパックSの試作品評価と来期の契約条件についてお時間をいただいたことへのお礼を伝える。",
        "【確認事項】",
        "・エコパックSを2027年1月から第1工場の一部ラインで試験採用することで合意した。",
        "・来期の年間契約の単価は現行比2.5%の値上げで合意した。",
        "・定期便は2027年1月より月3回とすることを確認した。",
        "【当社対応】",
        "・改定単価を反映した見積書の提出（担当：山田、期限：12月4日）",
        "・試験用サンプル500枚の手配（担当：鈴木、期限：11月30日）",
        "【お願い】",
        "・試験採用するラインのご選定と、現場のご担当者様のご連絡をお願いしたい。",
        "・品質保証部様とのお打ち合わせ候補日を3つほどいただきたい。",
        "【次回】",
        "次回は2026年12月15日（火）10:00から当社本社にて、試験採用の進捗と見積書の最終確認を行う。",
        "社内メモ：値引きの上限は3%まで（メールには書かない）。",
    ],
)

_PROPOSAL = Sample(
    filename="2026-11-24_XYZ食品_ヒアリングメモ.docx",
    title="ヒアリングメモ（XYZ食品株式会社 包装工程の改善）",
    blocks=[
        "日時：2026年11月24日（火）10:00〜11:30　先方：製造部 中村課長、品質管理課 小林様",
        "【お客様の課題】",
        "・包装工程で手作業の箱詰めが残っており、繁忙期は1日あたり約6時間の残業が発生している。",
        "・段ボールの強度不足による輸送中の破損が月に20件ほどあり、クレーム対応の負担が大きい。",
        "・取引先から包装材のプラスチック削減を求められている。",
        "【提案の方向性】",
        "エコパックSと半自動の箱詰め治具を組み合わせ、包装工程の省人化と破損の削減を同時に実現する提案とする。",
        "【解決策】",
        "・強度を高めた段ボール「エコパックS」への切り替え（従来品比105%の強度）。",
        "・半自動の箱詰め治具を2ラインに導入し、手作業の工程を置き換える。",
        "・導入後3か月は当社の技術担当が月1回訪問し、運用を定着させる。",
        "【期待効果】",
        "・箱詰め作業の時間を約40%削減できる見込み。",
        "・輸送中の破損を月20件から5件以下に減らすことを目標とする。",
        "・プラスチック緩衝材の使用量を年間約1.2トン削減できる。",
        "【概算費用】",
        "・箱詰め治具2台：約240万円、資材の切り替えによる単価の増加は現行比3%以内の見込み。",
        "・導入時期は2027年4月の新年度からを希望されている。",
        "【構成案】",
        "・現状の課題の整理",
        "・提案の全体像",
        "・導入効果の試算",
        "・概算費用と導入スケジュールのご提示",
        "・導入後の支援体制",
        "【確認が必要な事項】",
        "・箱詰め治具を設置するスペースの寸法を確認する。",
        "・破損件数の正確な月別データを先方にいただく。",
    ],
)

_FAQ = Sample(
    filename="2026-11-25_慶弔休暇の問い合わせ.md",
    title="社内問い合わせ：慶弔休暇の日数と申請方法",
    blocks=[
        "受付：2026年11月25日　チャネル：総務課の問い合わせフォーム",
        "## 問い合わせ内容",
        "来月、弟の結婚式に出席するのですが、慶弔休暇は何日取れますか。申請はいつまでに、どうすればよいでしょうか。",
        "## 回答案",
        "兄弟姉妹の結婚の場合、慶弔休暇は1日取得できます。申請は勤怠システムから、原則として取得日の1週間前までに行ってください。",
        "## 根拠",
        "- 就業規則 第32条（慶弔休暇）：兄弟姉妹が結婚するときは1日の慶弔休暇を与える。\n"
        "- 慶弔休暇取扱要領 第4条：慶弔休暇は有給とする。",
        "## 手続き",
        "- 勤怠システムの「休暇申請」から区分「慶弔休暇」を選ぶ。\n"
        "- 事由欄に続柄と行事の日付を入力する。\n"
        "- 所属長の承認後、総務課が内容を確認する。",
        "## 注意事項",
        "- 慶弔休暇は行事の当日または前後の日に取得するものとし、分割はできない。\n"
        "- 申請が遅れた場合は、所属長の承認を得て事後申請もできる。",
        "## 担当窓口",
        "管理部 総務課（勤怠担当）が窓口です。",
    ],
)

_HANDOVER = Sample(
    filename="2026-11-30_プレス工程_引継ぎメモ.docx",
    title="業務メモ（プレス工程 工程管理担当の引継ぎ）",
    blocks=[
        "作成：第2製造課 佐藤健一　後任：第2製造課 高田翔　作成日：2026年11月30日",
        "【引継ぎの概要】",
        "佐藤から高田さんへ、プレス工程（Aライン・Bライン）の工程管理業務を2026年12月7日から引き継ぐ。"
        "佐藤は12月から新ラインの立ち上げ担当となるが、12月末までは相談に応じる。",
        "【進行中の作業】",
        [
            ["作業", "状況", "期限"],
            ["Aライン金型B-12の研磨と初品検査", "研磨は完了、初品検査待ち", "12月3日"],
            ["Bラインの段取り替え手順書の改訂", "原案作成済み、課長確認中", "12月10日"],
            ["溶接ワイヤの定期発注（月2回）", "11月分は発注済み", "12月15日"],
        ],
        "【注意点】",
        "・Aラインの送り装置のセンサーは切粉がたまると誤検知するため、始業前に必ず清掃すること。",
        "・金型交換の後は初品検査の記録を品質管理課に提出しないと出荷できない。",
        "【未決事項】",
        "・Cラインの残業体制（12月の土曜出勤の要否）は、生産計画の確定待ち。",
        "・新しい検査治具の購入は、見積の回答待ちで保留中。",
        "【関係者】",
        "・保全課 田中さん：設備アラームと金型の修理の相談先。",
        "・品質管理課 小林さん：初品検査の判定と記録の提出先。",
        "【関連資料】",
        "・プレス工程の作業手順書は共有フォルダの「製造部/手順書/プレス」に保存している。",
        "・金型の保全記録は生産管理システムの「金型台帳」で確認できる。",
    ],
)

SAMPLES: dict[str, list[Sample]] = {
    "sales/meeting_minutes": [_SALES],
    "manufacturing/daily_report": [_MANUFACTURING],
    "admin/ringi": [_ADMIN],
    "hr/job_posting": [_HR],
    "sales/followup_mail": [_FOLLOWUP],
    "sales/proposal_outline": [_PROPOSAL],
    "admin/faq_answer": [_FAQ],
    "manufacturing/handover_note": [_HANDOVER],
}


def _set_east_asian_font(style, font_name: str) -> None:  # type: ignore[no-untyped-def]
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    style.font.name = font_name
    rpr = style.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.append(rfonts)
    # Word ignores w:eastAsia when a theme font attribute is also present, so drop the theme.
    for attr in ("w:eastAsiaTheme", "w:asciiTheme", "w:hAnsiTheme"):
        rfonts.attrib.pop(qn(attr), None)
    rfonts.set(qn("w:eastAsia"), font_name)


def write_docx(path: Path, title: str, blocks: list[Block]) -> Path:
    """A Word file with a title, paragraphs (【…】 lines bold) and grid tables."""
    from docx import Document

    doc = Document()
    for name in ("Normal", "Title", "Heading 1", "Heading 2", "Table Grid"):
        try:
            _set_east_asian_font(doc.styles[name], _EAST_ASIAN_FONT)
        except KeyError:
            continue
    doc.add_heading(title, level=1)
    for block in blocks:
        if isinstance(block, str):
            for line in block.split("\n"):
                para = doc.add_paragraph()
                run = para.add_run(line)
                run.bold = line.startswith(("【", "■"))
        else:
            ncols = max(len(r) for r in block)
            table = doc.add_table(rows=len(block), cols=ncols)
            table.style = "Table Grid"
            for i, row in enumerate(block):
                for j, cell in enumerate(row):
                    table.cell(i, j).text = cell
    doc.core_properties.created = doc.core_properties.modified = _FIXED_TIME
    doc.core_properties.last_modified_by = doc.core_properties.author = "teichaku"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    _fix_zip_times(path)
    return path


def _fix_zip_times(path: Path) -> None:
    """Rewrite a zip with one fixed time on every member, so writing it again changes no byte."""
    import zipfile

    with zipfile.ZipFile(path) as src:
        members = [(info, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, data in members:
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, data)


def _wrap(line: str, font: str, size: float, width: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if not line:
        return [""]
    out: list[str] = []
    current = ""
    for ch in line:
        # Japanese has no spaces to break at, so wrap per character by measured width.
        if current and stringWidth(current + ch, font, size) > width:
            out.append(current)
            current = ch
        else:
            current += ch
    out.append(current)
    return out


def write_pdf(path: Path, pages: list[str], *, font_size: float = 10.5) -> Path:
    """A text-layer PDF (A4). Each string starts a new page; overflow continues on the next one."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if _PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_PDF_FONT))
    page_w, page_h = A4
    margin = 50.0
    leading = font_size * 1.6
    path.parent.mkdir(parents=True, exist_ok=True)
    # invariant: no creation date or random id, so writing the examples again changes no byte.
    c = canvas.Canvas(str(path), pagesize=A4, invariant=True)
    c.setTitle(path.stem)
    for page_text in pages:
        y = page_h - margin
        c.setFont(_PDF_FONT, font_size)
        for raw in page_text.split("\n"):
            for line in _wrap(raw, _PDF_FONT, font_size, page_w - 2 * margin):
                if y < margin:
                    c.showPage()
                    c.setFont(_PDF_FONT, font_size)
                    y = page_h - margin
                c.drawString(margin, y, line)
                y -= leading
        c.showPage()
    c.save()
    return path


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Windows users save with CRLF; keep that so the readers see what they will see in the field.
    newline = "\r\n" if encoding.lower() in ("cp932", "shift_jis", "sjis") else "\n"
    with path.open("w", encoding=encoding, newline=newline) as fh:
        fh.write(text)
    return path


def write_sample(sample: Sample, directory: Path) -> Path:
    path = directory / sample.filename
    if sample.suffix == ".docx":
        return write_docx(path, sample.title, sample.blocks)
    if sample.suffix == ".pdf":
        return write_pdf(path, [sample.text()])
    if sample.suffix == ".md":
        return write_text(path, sample.markdown(), encoding=sample.encoding)
    return write_text(path, sample.text(), encoding=sample.encoding)


def write_samples(spec_id: str, inbox: Path) -> list[Path]:
    """Drop a built-in spec's committed example inputs into an inbox; unknown ids have none."""
    loaded = next((s for s in load_specs() if s.spec.id == spec_id and s.origin == "builtin"), None)
    return copy_example_inputs(loaded, inbox) if loaded is not None else []


def write_examples() -> list[Path]:
    """Write every sample into its built-in spec's examples folder (the committed inputs)."""
    builtin = {s.spec.id: s for s in load_specs() if s.origin == "builtin"}
    return [
        write_sample(sample, examples_dir(builtin[spec_id]))
        for spec_id, samples in SAMPLES.items()
        for sample in samples
    ]


if __name__ == "__main__":
    for written in write_examples():
        print(f"{written.stat().st_size:>7} {written}")
