"""Person and company names: legal forms and trade endings, field labels, honorifics and titles,
the SudachiPy dictionary's 人名 tags, and what GiNZA's NER labelled (tasks.guard.ner runs it).

Each function returns the names it found (or spans for tagged tokens); tasks.guard.detect then
masks every name wherever it occurs in the document.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tasks.guard.piece import Piece
from tasks.guard.spans import Span

if TYPE_CHECKING:
    from spacy.tokens import Doc

_CO_FORM = (
    r"株式会社|有限会社|合同会社|合資会社|合名会社|一般社団法人|一般財団法人|公益社団法人|公益財団法人|"
    r"医療法人(?:社団|財団)?|社会福祉法人|学校法人|\(株\)|（株）|㈱|\(有\)|（有）|㈲"
)
_CO_NAME = r"[一-龥々〆ヶァ-ヴーA-Za-zＡ-Ｚａ-ｚ0-9０-９・&＆]"
# After a legal form a name may start in hiragana when kanji/katakana follow (株式会社ひかり精工);
# a hiragana tail is not taken, because it is usually a particle (の, と, は).
# A Latin name may carry a domain (合同会社DMM.com, 株式会社ZOZO.jp).
_DOMAIN = r"(?:(?<=[A-Za-z0-9])[.．][A-Za-z]{2,6}){0,2}"
_COMPANY = re.compile(
    rf"(?:{_CO_FORM})[ 　]?(?:[ぁ-ゖ]{{1,6}}(?=[一-龥ァ-ヴ]))?{_CO_NAME}{{1,20}}{_DOMAIN}"
    rf"|{_CO_NAME}{{1,20}}[ 　]?(?:{_CO_FORM})"
)
# Trade-name endings that mark a company without a legal form: 「ミナト物産」「ABC商事」. Not
# right after ・: 「工場・物流」 is a list of common nouns.
_COMPANY_SUFFIX = re.compile(
    r"(?<![一-龥々ァ-ヴーA-Za-z])[一-龥々ァ-ヴーA-Za-zＡ-Ｚａ-ｚ&＆・]{1,10}(?<!・)"
    r"(?:商事|物産|精機|製作所|電機|電工|技研|商会|商店|工業|重工|運輸|物流|建設|産業|興産|化成|製薬|"
    r"ホールディングス|テクノロジーズ|システムズ|エンジニアリング)"
)
# Words that are not part of a name but often touch one: 「本日北斗精機株式会社」「株式会社北斗精機営業部」.
_CO_LEAD = re.compile(
    r"^(?:本日|昨日|先日|当日|今回|前回|次回|弊社|当社|貴社|御社|先方|新規|既存|顧客|取引先|各社|同社|担当)+"
)
_CO_TRAIL = re.compile(
    r"(?:営業部|営業本部|購買部|総務部|経理部|人事部|本社|支店|支社|工場|営業所|事業部|様|御中|殿|さん)+$"
)
_CO_FORM_IN = re.compile(_CO_FORM)
_DEPT_TAIL = re.compile(
    r"[ 　]+[一-龥々ァ-ヴーA-Za-z・]{0,12}(?:部|課|室|係|センター|本部|事業部|支店|支社|営業所|工場)$"
)
_CO_FORM_ONLY = re.compile(rf"^(?:{_CO_FORM})$")
_CO_STRIP = re.compile(rf"^(?:{_CO_FORM})[ 　]?|[ 　]?(?:{_CO_FORM})$")
LEGAL_FORM_EDGE = _CO_STRIP  # a legal form at either end of a company's name

_FIELD = re.compile(
    r"(?:担当者?|出席者|参加者|同席者|申請者|起案者|記入者|作成者|報告者|承認者|決裁者|面接官|応募者|"
    r"責任者|司会|書記|議長|氏名|お名前|名前|宛先|差出人|依頼者|連絡者)(?:名)?[ ]*[:：][ ]*([^\n]+)"
)
_ITEM_SPLIT = re.compile(r"[、,，/／;；]|\s{2,}|・(?=[一-龥])")
_PAREN = re.compile(r"[(（][^)）]*[)）]")
_TITLES = (
    "代表取締役社長|代表取締役|取締役|本部長|部長|次長|課長|係長|主任|主査|班長|職長|工場長|所長|室長|店長|"
    "社長|専務|常務|会長|副社長|顧問|リーダー|マネージャー|マネジャー|チーフ|先生|教授|様|さん|氏|殿|君|くん"
)
_TITLE_TRAIL = re.compile(rf"[ ]*(?:{_TITLES})+$")
HONORIFIC = {"様", "さん", "氏", "殿", "くん", "君", "ちゃん"}
TITLE_WORDS = set(_TITLES.split("|"))
_NAME_ITEM = re.compile(r"^[一-龥々〆ヶァ-ヴーぁ-ゖ]{1,6}(?:[ ][一-龥々〆ヶァ-ヴーぁ-ゖ]{1,6})?$")
# Words before 様/さん or in a field that are not anybody's name.
NOT_NAMES = {
    "皆",
    "皆様",
    "各位",
    "客",
    "お客",
    "お客様",
    "奥",
    "先方",
    "当社",
    "弊社",
    "貴社",
    "御社",
    "全員",
    "一同",
    "なし",
    "無し",
    "未定",
    "不明",
    "同上",
    "担当",
    "担当者",
    "関係者",
    "社員",
    "各",
    "同",
    "みな",
    "皆さん",
    "お疲れ",
    "ご苦労",
    "神",
    "仏",
    "王",
    "姫",
    "上",
    "営業部",
    "製造部",
    "総務部",
    "人事部",
    "経理部",
    "管理部",
    "営業",
    "製造",
    "総務",
    "人事",
    "経理",
    "管理",
    "工場",
    "本社",
    "部",
    "課",
    "チーム",
    "班",
    "当方",
    "先生",
    "御中",
    "各位殿",
    "ほか",
    "他",
    "外",
    "以上",
    "様",
    "さん",
    "氏",
    "殿",
    "同席",
    "出席",
    "欠席",
}
NAME_CUE = re.compile(
    rf"様|さん|氏|殿|{_TITLES}|担当|出席|参加|申請|記入|作成|報告|承認|氏名|株式会社|㈱|\(株\)|（株）|会社|商事|精機"
)

# Era names write dates (令和7年, R7年, 昭和の終わり); never a name on their own.
ERA_NAMES = frozenset({"令和", "平成", "昭和", "大正", "明治"})
ERA_DATE = re.compile(
    r"(?:令和|平成|昭和|大正|明治)[ 　]?[0-9０-９一二三四五六七八九十元]|[RHSＲＨＳ][0-9０-９]"
)
# Facility and unit words (物流センター, 第二倉庫, 品質保証部): a name only after a name (北斗物流センター).
FACILITY_END = re.compile(r"(?:センター|本部|部|課|工場|倉庫|事業所|営業所|支店|支社)$")
# A department word written before a person (「営業部 山田」): the unit, not part of the name.
_DEPT_WORD = re.compile(
    r"^[一-龥々ァ-ヴー]{0,10}(?:部|課|室|係|センター|本部|支店|支社|営業所|工場|チーム|グループ)$"
)

# Foreign full names (ジョン・スミス); plain katakana words are mostly common nouns (ユニット, リース)
# that the model labels wrongly when it labels them at all (Aライン as a company).
KATAKANA_FULL_NAME = re.compile(r"[ァ-ヴー]{2,}[・＝][ァ-ヴー]{2,}")
LATIN_CAPS = re.compile(r"[A-Z][A-Za-z]")


def _clean_company(value: str) -> str:
    value = _CO_LEAD.sub("", value.strip().strip("・"))
    if _CO_FORM_IN.search(
        value
    ):  # 「東邦化成工業株式会社 情報システム部」: the client, not its unit
        value = _DEPT_TAIL.sub("", value)
    return _CO_TRAIL.sub("", value).strip()


def companies(text: str, extra: Iterable[str]) -> set[str]:
    found = {_clean_company(m.group(0)) for m in _COMPANY.finditer(text)}
    found.update(
        v for m in _COMPANY_SUFFIX.finditer(text) if len(v := _clean_company(m.group(0))) >= 3
    )
    found.update(_clean_company(v) for v in extra)
    lexicon: set[str] = set()
    for v in found:
        if len(v) < 2 or _CO_FORM_ONLY.match(v):
            continue
        lexicon.add(v)
        short = _CO_STRIP.sub("", v).strip()
        if len(short) >= 2 and short not in NOT_NAMES:  # 「北斗精機さん」 names the same client
            lexicon.add(short)
    return lexicon


def field_names(text: str) -> set[str]:
    names: set[str] = set()
    for m in _FIELD.finditer(text):
        for item in _ITEM_SPLIT.split(_PAREN.sub(" ", m.group(1))):
            item = _TITLE_TRAIL.sub("", item.strip(" 　"))
            parts = item.replace("　", " ").split()
            # 「当社 山田」「営業部 佐藤課長」: drop a leading organisation word.
            while len(parts) > 1 and (
                parts[0] in NOT_NAMES or parts[0].endswith(("部", "課", "社", "室", "所", "係"))
            ):
                parts = parts[1:]
            item = _TITLE_TRAIL.sub("", " ".join(parts))
            if (
                item
                and item not in NOT_NAMES
                and _NAME_ITEM.match(item)
                and not re.fullmatch(r"[ぁ-ゖ]+", item)
            ):
                names.add(item)
                if " " in item:
                    names.add(item.replace(" ", ""))
    return names


def sudachi_names(base: int, piece: Piece, spans: list[Span], lexicon: set[str]) -> None:
    """Names from the dictionary's 人名 tags and from words before honorifics / titles."""
    toks = piece.tokens
    text = piece.text
    i = 0
    while i < len(toks):
        if "人名" not in toks[i].tag_:
            i += 1
            continue
        j = i
        while j < len(toks) and "人名" in toks[j].tag_:
            j += 1
        nxt = toks[j].text if j < len(toks) else ""
        first, last = toks[i], toks[j - 1]
        surface = text[first.idx : last.idx + len(last.text)]
        has_both = any("姓" in t.tag_ for t in toks[i:j]) and any(
            t.tag_.endswith("名") for t in toks[i:j]
        )
        context = nxt in HONORIFIC or nxt in TITLE_WORDS
        if (has_both or context or len(surface) >= 2) and surface not in NOT_NAMES:
            spans.append(Span(base + first.idx, base + first.idx + len(surface), "person"))
            if has_both or context:
                lexicon.add(surface)
        i = j
    # Unknown names before an honorific: the proper / common nouns directly before 様・さん.
    for k, tok in enumerate(toks):
        if tok.text not in HONORIFIC or k == 0 or "人名" in toks[k - 1].tag_:
            continue
        m = k
        while (
            m > 0
            and k - m < 3
            and toks[m - 1].tag_.startswith("名詞")
            and "副詞可能" not in toks[m - 1].tag_
        ):
            m -= 1
        if m == k:
            continue
        surface = text[toks[m].idx : tok.idx]
        if surface not in NOT_NAMES and re.fullmatch(r"[一-龥々ァ-ヴー]{2,8}", surface):
            spans.append(Span(base + toks[m].idx, base + tok.idx, "person"))
            lexicon.add(surface)


def _trim_entity(text: str) -> str:
    """An entity without the spaces, punctuation and symbols the model sometimes takes along at
    its ends: in a table row it labels 「山田 |」 a person, and masking that would swallow the
    cell border the draft's table is read by."""
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start])[0] in "PSZC":
        start += 1
    while end > start and unicodedata.category(text[end - 1])[0] in "PSZC":
        end -= 1
    return text[start:end]


# Latin words that are not anybody's name: formats, roles, common software, business
# abbreviations (研修 OJT, AT 限定, BCP, PDCA...).
_COMMON_LATIN_WORDS = """
AI IT DX PC OS PDF CSV KPI ROI CEO CFO CTO COO HR PR QA QC ID URL API SNS GDP USB LED LCD
DVD CD TV JIS ISO ERP CRM SaaS IoT ICT EC OEM FAQ PoC SDGs ESG IPO TOB GPS AR VR DNA RNA PCR
ATM ETC LNG SUV EV HV PHV CO OK NG TEL FAX No Web WEB Excel Word PowerPoint Outlook Teams
Zoom Slack Windows Mac Android Wi-Fi Bluetooth Email E-mail Mail PM AM Q&A UI UX SE IC BtoB
BtoC MBA PhD Ph.D TOEIC TOEFL JR NPO NGO LLC Inc Co Ltd Corp Mr Mrs Ms Dr The and of for OJT
AT MT BCP SLA QCD KY TPM MRP SCM WMS POS EDI CAD CAM NC CNC PLC FA IE VE JIT MBO PDCA BI DB
SQL VPN LAN WAN CPU GPU RAM SSD HDD UPS RPA OCR MTG TODO ToDo FY YoY NDA MOU RFP RFQ PO SOW
KGI OKR CS ES CX EX BPO SI SIer B2B B2C D2C DtoC ETA ETD ASAP FYI CC BCC RE FW JV IR CSR GHG
QR NFC LTE HTML PHP XML JSON AWS GCP SDK CI VS Re Fwd
"""
COMMON_LATIN = frozenset(_COMMON_LATIN_WORDS.split())


# GiNZA's labels (Sekine's extended named entities) for organisations of every kind: a client may
# be labelled any of them (AIRDO as International_Organization), and privacy comes first.
ORG_LABELS = frozenset(
    {
        "Company",
        "Company_Group",
        "Corporation_Other",
        "Organization_Other",
        "International_Organization",
        "Show_Organization",
        "Family",
        "Pro_Sports_Organization",
        "Sports_Organization_Other",
        "Political_Organization_Other",
        "Political_Party",
        "Government",
        "Public_Institution",
        "Research_Institute",
        "Military",
    }
)
_COMPANY_LABELS = frozenset({"Company", "Company_Group"})
_NAME_SCRIPT = re.compile(r"[ァ-ヴA-Za-zＡ-Ｚａ-ｚ]")


def _org_worth_taking(ent: Any, value: str) -> bool:
    """An organisation label on plain common nouns (委員会, 事務局) is the model guessing; one on a
    proper noun, a katakana or Latin word or a legal form is taken. Latin letters written onto
    digits or a hyphen are a part number (KX-2040), not a company."""
    text = ent.doc.text
    touching = (
        text[ent.end_char : ent.end_char + 1] + text[max(0, ent.start_char - 1) : ent.start_char]
    )
    if value.isascii() and (any(c.isdigit() for c in value) or re.search(r"[0-9\-－_/]", touching)):
        return False
    proper = [t for t in ent if "固有名詞" in t.tag_]
    if proper and all("地名" in t.tag_ for t in proper) and not _CO_FORM_IN.search(value):
        return False  # 「営業部 大阪」: a department and a place
    if _CO_FORM_IN.search(value) or _COMPANY_SUFFIX.search(value) or proper:
        return True
    if ent.label_ in _COMPANY_LABELS:
        # Common nouns labelled Company (Aライン, BtoBメーカー) are the model guessing; a word in
        # capitals (IBM) or in katakana alone is a name the dictionary does not know.
        # A katakana word after a single letter names a line or a team (Aライン・Bライン).
        toks = list(ent)
        named = [
            t
            for k, t in enumerate(toks)
            if re.fullmatch(r"[A-Z&]{2,}|[ァ-ヴー]{3,}", t.text)
            and not (k > 0 and re.fullmatch(r"[A-ZＡ-Ｚ]", toks[k - 1].text))
        ]
        return bool(named) and not any(t.text in COMMON_LATIN for t in ent)
    return bool(_NAME_SCRIPT.search(value))


def _without_department(ent: Any, value: str) -> str:
    """「営業部 山田」 labelled Person: the person is 山田; the department stays readable. A
    leading word goes only when no token of it is a 人名 (阿部, 服部 are surnames)."""
    text, pos = ent.doc.text, ent.start_char
    for part in re.findall(r"\S+\s+", text[ent.start_char : ent.end_char]):
        word = part.strip()
        names = any("人名" in t.tag_ for t in ent if pos <= t.idx < pos + len(word))
        if names or not _DEPT_WORD.match(word):
            break
        pos += len(part)
    rest = _trim_entity(text[pos : ent.end_char])
    return rest if pos > ent.start_char and len(rest) >= 2 else value


def ner_names(docs: Iterable[Doc]) -> tuple[set[str], set[str]]:
    """(persons, companies) among the entities GiNZA's NER labelled in these pieces."""
    persons: set[str] = set()
    companies: set[str] = set()
    for doc in docs:
        for ent in doc.ents:
            value = _trim_entity(ent.text)
            if len(value) < 2 or value in NOT_NAMES or value in COMMON_LATIN or value in ERA_NAMES:
                continue
            if ent.label_ == "Person" and not _CO_FORM_IN.search(value):
                persons.add(_TITLE_TRAIL.sub("", _without_department(ent, value)) or value)
            elif ent.label_ in ORG_LABELS and _org_worth_taking(ent, value):
                companies.add(value)
    return persons, companies
