"""The documents a Japanese office drops besides Word and PDF, built in code, with their facts.

Workbooks (a 日報 form sheet, a table sheet with one row per day, a hidden sheet), e-mails
(ISO-2022-JP with a quoted reply and an attachment, HTML only, Shift_JIS), a slide deck, and
hostile files of each format (zip bomb, XML entity bomb, password-protected, corrupt). Every
document carries facts (dates, amounts with thousands separators, quantities) that no other
document has, listed in `FACTS` so the end-to-end test can look for each in what the model got.
Makers write to `path`, create missing parent folders and return `path`, as in builders.py.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from email import encoders
from email.header import Header
from email.message import EmailMessage
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from pathlib import Path

# Facts per corpus document (see each maker): what must reach the model, as written there.
FACTS: dict[str, list[str]] = {
    "form_xlsx": ["2025年7月3日", "1,250個", "1,198個", "95.8%", "37分", "412,300", "2号機の油圧"],
    "table_xlsx": [
        "2025年7月7日",
        "2025年7月8日",
        "2025年7月9日",
        "2,310個",
        "2,275個",
        "2,402個",
        "18個",
        "1,036,800",
    ],
    "iso2022_eml": [
        "2025年8月21日",
        "4,750,000円",
        "36台",
        "第3会議室",
        "9月5日",
        "検査装置",
        "見積書の有効期限は2025年9月30日",
    ],
    "html_eml": ["2025年10月2日", "128,600円", "45箱", "10月9日", "東棟"],
    "pptx": ["2025年11月14日", "7,800,000円", "240ライセンス", "14拠点", "3月末", "稼働率87.5%"],
}


def _prepare(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- Excel


def make_form_workbook(path: Path) -> Path:
    """A 日報 form sheet (label | value, merged title, a formula), a note sheet, a hidden sheet."""
    import openpyxl

    book = openpyxl.Workbook()
    form = book.active
    form.title = "日報"
    form["A1"] = "製造日報（成形課）"
    form.merge_cells("A1:D1")  # the title spans the form: read once
    rows = [
        ("日付", dt.date(2025, 7, 3)),
        ("計画数", 1250),
        ("実績数", 1198),
        ("停止時間", "37分（金型交換）"),
        ("保全費", 412300),
        ("引継ぎ", "夜勤の岡田さんへ：2号機の油圧を確認"),
    ]
    for i, (label, value) in enumerate(rows, start=3):
        form.cell(i, 1, label)
        form.cell(i, 2, value)
    form["B3"].number_format = "yyyy/m/d"
    form["B4"].number_format = form["B5"].number_format = '#,##0"個"'
    form["B7"].number_format = "#,##0"
    form["A10"] = "達成率"
    form["B10"] = "=B5/B4"
    form["B10"].number_format = "0.0%"
    notes = book.create_sheet("備考")
    notes["A1"] = "品質：外観不良なし"
    secret = book.create_sheet("計算用")
    secret["A1"] = "非表示シートの値 999,999円"
    secret.sheet_state = "hidden"
    book.save(_prepare(path))
    return _set_cached_value(path, "xl/worksheets/sheet1.xml", "B10", "0.95840000000000003")


def _set_cached_value(path: Path, member: str, ref: str, value: str) -> Path:
    """Write the formula's cached value, as Excel does on save (openpyxl writes none)."""
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    xml = parts[member].decode()
    start = xml.index(f'r="{ref}"')
    end = xml.index("</c>", start)
    cell = xml[start:end].replace("<v></v>", "").replace("<v />", "")
    parts[member] = (xml[:start] + cell + f"<v>{value}</v>" + xml[end:]).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def make_table_workbook(path: Path) -> Path:
    """A table sheet (header + one row per day, dates as dates) and a summary sheet."""
    import openpyxl

    book = openpyxl.Workbook()
    table = book.active
    table.title = "7月実績"
    table.append(["日付", "品番", "計画", "実績", "不良", "売上"])
    days = [
        (dt.date(2025, 7, 7), "D-310", 2300, 2310, 18, 1036800),
        (dt.date(2025, 7, 8), "D-310", 2300, 2275, 11, 1021200),
        (dt.date(2025, 7, 9), "D-320", 2400, 2402, 7, 1079100),
    ]
    for row in days:
        table.append(list(row))
    for r in range(2, 5):
        table.cell(r, 1).number_format = "yyyy-mm-dd"
        for c in (3, 4, 5):
            table.cell(r, c).number_format = '#,##0"個"'
        table.cell(r, 6).number_format = "#,##0"
    summary = book.create_sheet("集計")
    summary.append(["項目", "値"])
    summary.append(["最多実績日", "7月9日"])
    book.save(_prepare(path))
    return path


def make_xml_bomb_xlsx(path: Path) -> Path:
    """A workbook whose sheet XML declares nested entities (billion laughs)."""
    make_table_workbook(path)
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    parts["xl/worksheets/sheet1.xml"] = bomb.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def make_zip_bomb_office(path: Path, main_part: str, uncompressed_mb: int = 200) -> Path:
    """An Office-shaped zip whose `main_part` is `uncompressed_mb` MB of zeros (streamed)."""
    chunk = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(_prepare(path), "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with zf.open(main_part, "w", force_zip64=True) as member:
            for _ in range(uncompressed_mb):
                member.write(chunk)
    return path


# --------------------------------------------------------------------------- e-mail

_ISO_BODY = """青木様

お世話になっております。株式会社青葉精工の森です。
2025年8月21日の打合せでご依頼いただいた検査装置の件、以下の通りご連絡します。

・見積金額：4,750,000円（税抜）
・台数：36台
・次回打合せ：9月5日 14時、貴社第3会議室

見積書の有効期限は2025年9月30日です。

> 8月21日 青木 wrote:
> 先日はありがとうございました。台数は30台で検討しています。
> ご確認をお願いします。
"""


def _attachment(data: bytes, maintype: str, subtype: str, filename: str) -> MIMEBase:
    part = MIMEBase(maintype, subtype)
    part.set_payload(data)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", filename))
    return part


def make_iso2022_eml(path: Path, *, attachment: bytes | None = None) -> Path:
    """A reply written by a Japanese mailer: ISO-2022-JP body, quoted chain, attachments.

    `attachment` becomes 「仕様メモ.txt」 (read after the body); a zip is always attached too
    (listed by name, not read).
    """
    msg = MIMEMultipart()
    msg["Subject"] = Header("Re: 検査装置のお見積りについて", "iso-2022-jp")
    msg["From"] = formataddr((str(Header("森", "iso-2022-jp")), "mori@aoba-seiko.example"))
    msg["To"] = "aoki@example.co.jp"
    jst = dt.timezone(dt.timedelta(hours=9))
    msg["Date"] = format_datetime(dt.datetime(2025, 8, 22, 9, 30, tzinfo=jst))
    msg.attach(MIMEText(_ISO_BODY, "plain", "iso-2022-jp"))
    if attachment is not None:
        msg.attach(_attachment(attachment, "text", "plain", "仕様メモ.txt"))
    msg.attach(_attachment(b"PK\x05\x06" + bytes(18), "application", "zip", "図面一式.zip"))
    _prepare(path).write_bytes(msg.as_bytes())
    return path


def make_html_eml(path: Path) -> Path:
    """An HTML-only message (no text/plain part), UTF-8, with a table and a list."""
    msg = EmailMessage()
    msg["Subject"] = "【至急】出荷変更のお知らせ"
    msg["From"] = "物流課 <butsuryu@example.co.jp>"
    msg["To"] = "eigyo@example.co.jp"
    msg["Date"] = "Thu, 02 Oct 2025 17:05:00 +0900"
    html = (
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
        "<p>営業部各位</p><p>2025年10月2日付で、次の出荷を変更します。</p>"
        "<table><tr><th>品目</th><th>数量</th><th>運賃</th></tr>"
        "<tr><td>梱包資材</td><td>45箱</td><td>128,600円</td></tr></table>"
        "<ul><li>出荷日：10月9日</li><li>出荷元：物流センター東棟</li></ul>"
        "<p>以上、よろしくお願いします。</p></body></html>"
    )
    msg.set_content(html, subtype="html", charset="utf-8")
    _prepare(path).write_bytes(msg.as_bytes())
    return path


def make_sjis_eml(path: Path, text: str, subject: str = "議事メモ") -> Path:
    """A plain message labelled Shift_JIS but holding cp932 characters (①, ㈱), as Outlook does."""
    body = text.encode("cp932")
    head = (
        f"Subject: {subject}\r\nFrom: a@example.co.jp\r\nDate: Mon, 1 Sep 2025 10:00:00 +0900\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=Shift_JIS\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    import email.header

    head = head.replace(subject, email.header.Header(subject, "utf-8").encode())
    _prepare(path).write_bytes(head.encode("ascii") + body)
    return path


# --------------------------------------------------------------------------- slides


def make_pptx(path: Path) -> Path:
    """Hearing notes as slides: titles, a text box in a group, a table, speaker notes."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "ヒアリング結果（2025年11月14日）"
    first.placeholders[1].text = "現行システムは14拠点で利用、稼働率87.5%"
    group = first.shapes.add_group_shape()
    box = group.shapes.add_textbox(Inches(1), Inches(5), Inches(6), Inches(1))
    box.text_frame.text = "要望：3月末までに移行したい"
    first.notes_slide.notes_text_frame.text = "先方の情報システム部長が同席。"
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "概算費用"
    rows = [("項目", "数量", "金額"), ("ライセンス", "240ライセンス", "7,800,000円")]
    table = second.shapes.add_table(2, 3, Inches(1), Inches(2), Inches(8), Inches(1)).table
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    second.notes_slide.notes_text_frame.text = "値引きの余地は次回確認。"
    deck.save(_prepare(path))
    return path
