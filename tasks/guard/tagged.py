"""Names from the SudachiPy dictionary's tags, read over the whole text (no NER needed).

The dictionary knows far more proper nouns than the NER model labels well: 日本航空, 王子製紙,
キングレコード, JR九州, AIRDO, BMW are each one token tagged 名詞-固有名詞-一般, and persons carry
人名 (姓 / 名 / 一般). Toks are first joined into units: proper nouns written together
(日本 + ソフトバンク, スタジオ + ジブリ), katakana and Latin parts joined by ・ ＝ - or a space
(モティラル・ネルー, ジョン・F・ケネディ, Steve Jobs), a trade ending after a proper noun
(海爾 + 集団, 吉利 + 汽車), the rest of a given name the dictionary cut (伊藤 穣 一, 内田 百 閒).
A unit is then a person (a 人名 part, or Latin words in a row), a company (a trade ending, a
katakana or Latin proper noun, capitals such as IBM) or another proper noun, held back as
[固有名N] so it is never sent although it is not claimed to be a company. Places (地名) stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from tasks.guard import ner
from tasks.guard.names import (
    COMMON_LATIN,
    ERA_NAMES,
    FACILITY_END,
    HONORIFIC,
    NOT_NAMES,
    TITLE_WORDS,
)
from tasks.guard.piece import Piece, Tok
from tasks.guard.spans import Span

# Trade-name endings: a unit ending so (or a proper noun followed by one) is a company.
TRADE_ENDINGS = (
    "ホールディングス|ホールディング|グループ|コーポレーション|カンパニー|インダストリーズ|"
    "テクノロジーズ|テクノロジー|システムズ|エレクトロニクス|モーターズ|エアラインズ|エアライン|"
    "アビエーション|ブラザーズ|ブラザース|ピクチャーズ|エンタテインメント|エンターテインメント|"
    "レコード|レコーズ|ミュージック|スタジオ|プロダクション|フーズ|ファーマ|カーズ|"
    "HD|Inc\\.?|Corp\\.?|Ltd\\.?|LLC|Co\\.?|Group|Holdings|Motors|Electronics|Airlines|Bank|"
    "航空|空輸|製紙|汽車|集団|銀行|証券|商事|物産|電機|電気|電工|工業|重工|製作所|電力|鉄道|電鉄|"
    "新聞社|新聞|書店|出版|放送|製薬|薬品|製菓|食品|乳業|化学|化成|石油|海運|汽船|郵船|商船|"
    "自動車|自工|建設|興業|興産|産業|通信|電話|生命|保険|信託|百貨店|運輸|交通|観光|不動産|地所|"
    "倉庫|紡績|製鋼|製鉄|鋼管|精工|精機|光学|酒造|醸造|ビール|珈琲|映画|通運|商会|商店|本社|技研|"
    "化粧品|製粉|製糖|水産|印刷|工業所|製鋼所|組|堂|社"
)
_TRADE_END = re.compile(rf"(?:{TRADE_ENDINGS})$")
# Ending words that may follow a proper noun as a token of their own (海爾 + 集団).
_ENDING_TOKEN = re.compile(rf"^(?:{TRADE_ENDINGS})$")
_KATAKANA = re.compile(r"^[ァ-ヴー]+$")
_LATIN = re.compile(r"^[A-Za-zＡ-Ｚａ-ｚ][A-Za-zＡ-Ｚａ-ｚ0-9０-９&＆.'’-]*$")
_CAPITALS = re.compile(r"^[A-ZＡ-Ｚ][A-ZＡ-Ｚ&＆.-]{1,7}$")
_CAPITALISED = re.compile(r"^[A-ZＡ-Ｚ][a-zａ-ｚ'’-]{2,}$")
_INITIAL = re.compile(r"^[A-ZＡ-Ｚ]\.?$")
_KANJI_ONLY = re.compile(r"^[一-龥々〆ヶ]+$")
_JOINERS = {"・", "＝", "=", "-", "‐", "･"}


@dataclass
class Unit:
    start: int  # offset in the piece
    end: int
    tokens: tuple[Tok, ...]
    text: str  # the piece's text[start:end]


def _proper(tok: Tok) -> bool:
    return "固有名詞" in tok.tag_


def _person_tag(tok: Tok) -> bool:
    return "人名" in tok.tag_


def _place(tok: Tok) -> bool:
    return "地名" in tok.tag_


def _script(tok: Tok) -> bool:
    """Written in katakana or Latin letters: the scripts foreign names and brands use."""
    return bool(_KATAKANA.match(tok.text) or _LATIN.match(tok.text))


def _noun(tok: Tok) -> bool:
    return tok.tag_.startswith(("名詞", "接頭辞")) and "数詞" not in tok.tag_


def _joins(a: Tok, b: Tok) -> bool:
    """Whether b, written right after a, continues the same name."""
    if a.whitespace_ or not _noun(b):
        return False
    if _proper(a) and _ENDING_TOKEN.match(b.text):
        return True  # 海爾 + 集団, 吉利 + 汽車, 岩波 + 書店
    if not (_proper(a) or _proper(b)):
        return False
    if _proper(a) and _proper(b):
        return True  # 日本 + ソフトバンク, UCC + 上島
    other = b if _proper(a) else a
    return _script(other) or bool(_ENDING_TOKEN.match(other.text))  # スタジオ + ジブリ


def _joined_by_mark(toks: tuple[Tok, ...], j: int) -> bool:
    """toks[j] ・ toks[j+2]: katakana or Latin parts of one name (ジョン・F・ケネディ)."""
    if j + 2 >= len(toks) or toks[j + 1].text not in _JOINERS:
        return False
    a, b = toks[j], toks[j + 2]
    if a.whitespace_ or toks[j + 1].whitespace_:
        return False
    return (_script(a) or _INITIAL.match(a.text) is not None) and (
        _script(b) or _INITIAL.match(b.text) is not None
    )


def _latin_pair(a: Tok, b: Tok) -> bool:
    """Steve Jobs, Samsung Electronics: capitalised Latin words with one space between."""
    return (
        a.whitespace_ == " "
        and _LATIN.match(a.text) is not None
        and _LATIN.match(b.text) is not None
        and a.text[:1].isupper()
        and b.text[:1].isupper()
        and a.text not in COMMON_LATIN
        and b.text not in COMMON_LATIN
    )


def _ordinal_company(toks: tuple[Tok, ...], i: int) -> int | None:
    """第一汽車, 第二電電, 第一国立銀行: 第 + a numeral + nouns up to a trade ending or a proper
    noun; the index of the last token, or None."""
    if toks[i].text != "第" or i + 2 >= len(toks) or "数詞" not in toks[i + 1].tag_:
        return None
    for k in range(i + 2, min(i + 5, len(toks))):
        if not _noun(toks[k]) or not _KANJI_ONLY.match(toks[k].text) or toks[k - 1].whitespace_:
            return None
        if _proper(toks[k]) or _ENDING_TOKEN.match(toks[k].text):
            return k
    return None


def units(piece: Piece) -> Iterator[Unit]:
    """Maximal runs of tokens that together write one name."""
    toks = piece.tokens
    text = piece.text
    i = 0
    while i < len(toks):
        last = _ordinal_company(toks, i)
        if last is not None:
            start, end = toks[i].idx, toks[last].idx + len(toks[last].text)
            yield Unit(start, end, toks[i : last + 1], text[start:end])
            i = last + 1
            continue
        if not _noun(toks[i]) or not (_proper(toks[i]) or _script(toks[i])):
            i += 1
            continue
        j = i
        while True:
            if j + 1 < len(toks) and _joins(toks[j], toks[j + 1]):
                j += 1
            elif _joined_by_mark(toks, j):
                j += 2
            elif j + 1 < len(toks) and _latin_pair(toks[j], toks[j + 1]):
                j += 1
            else:
                break
        j = _given_name_rest(toks, i, j)
        start, end = toks[i].idx, toks[j].idx + len(toks[j].text)
        yield Unit(start, end, toks[i : j + 1], text[start:end])
        i = j + 1


def _given_name_rest(toks: tuple[Tok, ...], i: int, j: int) -> int:
    """伊藤/姓 穣/名 一, 内田/姓 百 閒: a surname the dictionary follows with one or two stray
    kanji right before a particle is a full name it cut; take them along."""
    if not any(_person_tag(t) for t in toks[i : j + 1]) or not _KANJI_ONLY.match(toks[j].text):
        return j
    k, taken = j, 0
    while k + 1 < len(toks) and taken < 2:
        nxt = toks[k + 1]
        if toks[k].whitespace_ or not (_KANJI_ONLY.match(nxt.text) and len(nxt.text) <= 2):
            break
        if nxt.text in HONORIFIC or nxt.text in TITLE_WORDS:
            break
        k, taken = k + 1, taken + len(nxt.text)
    after = toks[k + 1] if k + 1 < len(toks) else None
    if k > j and taken <= 2 and (after is None or after.tag_.startswith(("助詞", "補助記号"))):
        return k
    return j


@lru_cache(maxsize=2048)
def generic_facility(text: str) -> bool:
    """物流センター, 第二倉庫, 品質保証部: a facility or unit word after common words only, which
    the dictionary sometimes tags a proper noun; not a name on its own (北斗物流センター is)."""
    m = FACILITY_END.search(text)
    stem = text[: m.start()] if m else ""
    if m is None or not stem:
        return m is not None
    if len(stem) < 2 or not re.fullmatch(r"[一-龥々ァ-ヴー]+", stem):
        return False  # 阿部, 服部: too short to tell from a surname
    nlp = ner.load()
    if nlp is None:
        return False
    return all(
        t.tag_.startswith(("名詞-普通名詞", "接頭辞")) or "数詞" in t.tag_
        for t in ner.tokenize_one(nlp, stem)
    )


def classify(unit: Unit) -> str | None:
    """person | company | proper_noun | None (a place, or nothing name-like)."""
    toks, text = unit.tokens, unit.text
    if text in NOT_NAMES or text in COMMON_LATIN or text in ERA_NAMES:
        return None
    if not any(_person_tag(t) for t in toks) and generic_facility(text):
        return None
    if _TRADE_END.search(text) and len(text) > 2 and not all(_person_tag(t) for t in toks):
        return "company"
    if any(_person_tag(t) for t in toks):
        return "person"
    if len(toks) > 1 and all(_LATIN.match(t.text) for t in toks):
        return "person"  # Steve Jobs; Latin companies mostly carry an ending (Inc, Group)
    places = [t for t in toks if _proper(t)]
    if (
        places
        and all(_place(t) for t in places)
        and not any(_CAPITALS.match(t.text) for t in places)
    ):
        return None  # 関西, 関西エリア: a place (USスチール is not)
    parts = [t for t in toks if t.text not in _JOINERS]
    if len(parts) > 1 and all(t.text in COMMON_LATIN for t in parts):
        return None  # Excel・PowerPoint
    if any(_proper(t) for t in toks):
        return "company" if any(_script(t) for t in toks) else "proper_noun"
    # Not in the dictionary as a proper noun: capitals (IHG) or a capitalised word (Apple).
    if len(toks) == 1 and (_CAPITALS.match(text) or _CAPITALISED.match(text)):
        return "company"
    if len(toks) > 1 and any(t.text in _JOINERS for t in toks):
        return None  # ワーク・ライフ・バランス: common nouns joined; NER may still say Person
    return None


def _one_character_name(toks: tuple[Tok, ...], k: int) -> bool:
    """彩は, 隆と聡は, 堀は: a one-character 人名 standing alone as a subject or in a list."""
    tok = toks[k]
    if len(tok.text) != 1 or not _person_tag(tok):
        return False
    before = toks[k - 1] if k > 0 else None
    after = toks[k + 1] if k + 1 < len(toks) else None
    alone_before = before is None or before.tag_.startswith(("助詞", "補助記号")) or before.is_space
    return (
        alone_before
        and after is not None
        and (after.text in ("は", "が", "と", "も", "や", "の", "、") or after.text in HONORIFIC)
    )


def _part_number(text: str, unit: Unit) -> bool:
    """AB-1234, KX2040, SUS304: Latin letters written onto digits or a hyphen are a code."""
    if not all(_LATIN.match(t.text) for t in unit.tokens):
        return False
    before = text[unit.start - 1] if unit.start > 0 else ""
    after = text[unit.end] if unit.end < len(text) else ""
    return bool(
        re.match(r"[0-9０-９\-－_/]", after) or re.match(r"[0-9０-９\-－_/]", before)
    ) or any(c.isdigit() for c in unit.text)


def tagged_names(base: int, piece: Piece) -> Iterator[Span]:
    """Spans (offsets in the whole text) of the names the tags show in one piece."""
    text = piece.text
    for unit in units(piece):
        if _part_number(text, unit):
            continue
        category = classify(unit)
        if category is not None and unit.end - unit.start >= 2:
            yield Span(base + unit.start, base + unit.end, category)
    toks = piece.tokens
    for k in range(len(toks)):
        if _one_character_name(toks, k):
            yield Span(base + toks[k].idx, base + toks[k].idx + 1, "person")
