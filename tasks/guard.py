"""Guard: what may leave the machine. Runs before every model call.

Personal data and client names are replaced by consistent placeholders ([人名1], [会社1],
[メール1]) before the text is sent, and put back locally in the draft, so the reader sees real
values while the model never did. Confidentiality labels (社外秘, 極秘...) decide whether a
document may go to the model at all, and to which one. Instruction-like text is flagged.

Detectors, all run on the whole text:
- patterns for structured data (mail, phone, My Number, card, bank account, postal address),
  run on a width-folded copy of the text so full-width digits match with unchanged offsets;
- company forms (株式会社…, …株式会社, (株), ㈱) and the workspace's 取引先 list;
- person names: field labels (担当：, 出席者：...), honorifics and titles, the SudachiPy
  dictionary's 人名 tags (fast, whole text), GiNZA's NER (slow, bounded by ner_max_chars), and
  an optional employee directory.
Every name found once is masked wherever it occurs. Overlapping spans: the longest wins.
"""

from __future__ import annotations

import csv
import logging
import re
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from core.errors import Refusal
from core.models import RefusalKind
from core.settings import Settings
from core.specs import PromptSpec

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

log = logging.getLogger(__name__)

# category id (counts, audit) -> placeholder label (what the model sees)
LABELS: dict[str, str] = {
    "email": "メール",
    "phone": "電話",
    "my_number": "マイナンバー",
    "card": "カード番号",
    "bank_account": "口座番号",
    "address": "住所",
    "company": "会社",
    "person": "人名",
}
# On equal length the more specific detector wins (a card number is not a phone number).
_PRIORITY = {cat: i for i, cat in enumerate(LABELS)}
_PLACEHOLDER = re.compile(
    r"[\[［](" + "|".join(map(re.escape, LABELS.values())) + r")([0-9０-９]+)[\]］]"
)

# -- width folding ----------------------------------------------------------------------------
# Full-width ASCII and dash variants map 1:1 to ASCII, so offsets in the folded copy are offsets
# in the original: patterns are written once, for ASCII.
_FOLD = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_FOLD.update({ord(c): ord("-") for c in "‐‑‒–—―−ー－"})
_FOLD[0x3000] = ord(" ")


def _fold(text: str) -> str:
    return text.translate(_FOLD)


# -- structured patterns (on folded text) -----------------------------------------------------
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
)
# No \b: a number right after 「連絡先：」 has no word boundary in Python's Unicode sense. The
# digit count (10 or 11 with the leading 0) is checked after matching.
_PHONE = re.compile(
    r"(?<![0-9\-])(?:\+81[ \-]?\(?0?\)?|\(0|0)[0-9]{1,4}\)?[ \-]?(?:\(?[0-9]{1,4}\)?[ \-]?)?[0-9]{3,4}(?![0-9]|-[0-9])"
)
_DIGIT_RUN = re.compile(
    r"(?<![0-9\-])[0-9]{4}[ \-]?[0-9]{4}[ \-]?[0-9]{4}(?:[ \-]?[0-9]{1,7})?(?![0-9])"
)
_MY_NUMBER_CUE = re.compile(r"マイナンバー|個人番号|My ?Number", re.I)
_ACCOUNT_CUE = re.compile(r"口座|預金|振込先|振込口座")
_ACCOUNT_NUMBER = re.compile(r"(?<![0-9\-])(?:[0-9]{5}-[0-9]{6,8}|[0-9]{6,8})(?![0-9])")
_PREFS = (
    "北海道|青森県|岩手県|宮城県|秋田県|山形県|福島県|茨城県|栃木県|群馬県|埼玉県|千葉県|東京都|神奈川県|"
    "新潟県|富山県|石川県|福井県|山梨県|長野県|岐阜県|静岡県|愛知県|三重県|滋賀県|京都府|大阪府|兵庫県|"
    "奈良県|和歌山県|鳥取県|島根県|岡山県|広島県|山口県|徳島県|香川県|愛媛県|高知県|福岡県|佐賀県|長崎県|"
    "熊本県|大分県|宮崎県|鹿児島県|沖縄県"
)
_ADDR_TAIL = r"[^\s、。,，;；:：()（）「」\[\]【】]{0,40}?[0-9]+(?:-[0-9]+)*(?:丁目|番地?|号)?(?:[0-9]+(?:-[0-9]+)*号?)?"
_POSTAL_ADDRESS = re.compile(
    r"(?:〒|郵便番号[:： ]*)[ ]?[0-9]{3}-[0-9]{4}(?:[ ]?(?:"
    + _PREFS
    + r")?"
    + _ADDR_TAIL
    + r"(?:[ ]?[^\s、。,，]{1,25}(?:ビル|マンション|ハイツ|タワー|棟)[^\s、。,，]{0,8})?)?"
    r"|(?<![0-9\-])[0-9]{3}-[0-9]{4}[ ]?(?:" + _PREFS + r")" + _ADDR_TAIL
)
_ADDRESS = re.compile(r"(?:" + _PREFS + r")[^\s、。,，()（）]{1,12}?[市区町村郡]" + _ADDR_TAIL)

# -- companies --------------------------------------------------------------------------------
_CO_FORM = (
    r"株式会社|有限会社|合同会社|合資会社|合名会社|一般社団法人|一般財団法人|公益社団法人|公益財団法人|"
    r"医療法人(?:社団|財団)?|社会福祉法人|学校法人|\(株\)|（株）|㈱|\(有\)|（有）|㈲"
)
_CO_NAME = r"[一-龥々〆ヶァ-ヴーA-Za-zＡ-Ｚａ-ｚ0-9０-９・&＆]"
# After a legal form a name may start in hiragana when kanji/katakana follow (株式会社ひかり精工);
# a hiragana tail is not taken, because it is usually a particle (の, と, は).
_COMPANY = re.compile(
    rf"(?:{_CO_FORM})[ 　]?(?:[ぁ-ゖ]{{1,6}}(?=[一-龥ァ-ヴ]))?{_CO_NAME}{{1,20}}|{_CO_NAME}{{1,20}}[ 　]?(?:{_CO_FORM})"
)
# Trade-name endings that mark a company without a legal form: 「ミナト物産」「ABC商事」.
_COMPANY_SUFFIX = re.compile(
    r"(?<![一-龥々ァ-ヴーA-Za-z])[一-龥々ァ-ヴーA-Za-zＡ-Ｚａ-ｚ&＆・]{1,10}"
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
_CO_FORM_ONLY = re.compile(rf"^(?:{_CO_FORM})$")
_CO_STRIP = re.compile(rf"^(?:{_CO_FORM})[ 　]?|[ 　]?(?:{_CO_FORM})$")

# -- persons ----------------------------------------------------------------------------------
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
_HONORIFIC = {"様", "さん", "氏", "殿", "くん", "君", "ちゃん"}
_TITLE_WORDS = set(_TITLES.split("|"))
_NAME_ITEM = re.compile(r"^[一-龥々〆ヶァ-ヴーぁ-ゖ]{1,6}(?:[ ][一-龥々〆ヶァ-ヴーぁ-ゖ]{1,6})?$")
# Words before 様/さん or in a field that are not anybody's name.
_NOT_NAMES = {
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
_NAME_CUE = re.compile(
    rf"様|さん|氏|殿|{_TITLES}|担当|出席|参加|申請|記入|作成|報告|承認|氏名|株式会社|㈱|\(株\)|（株）|会社|商事|精機"
)

# Foreign full names (ジョン・スミス); plain katakana words are mostly common nouns (ユニット, リース)
# that the model labels wrongly when it labels them at all (Aライン as a company).
_KATAKANA_FULL_NAME = re.compile(r"[ァ-ヴー]{2,}[・＝][ァ-ヴー]{2,}")
_LATIN_CAPS = re.compile(r"[A-Z][A-Za-z]")

# -- confidentiality and injection ------------------------------------------------------------
_INJECTION = [
    re.compile(p, re.I)
    for p in (
        r"(?:以上|上記|これまで|今まで|前|以前|先ほど|直前)の(?:すべての|全ての|全)?(?:指示|命令|指令|ルール|設定)を(?:無視|忘れ|破棄|取り消)",
        r"(?:指示|命令|ルール)を(?:すべて|全て)?無視(?:して|せよ|しろ|してください)",
        r"システム\s*プロンプト",
        r"あなたは(?:今から|これから|今後)",
        r"(?:開発者|管理者|デバッグ)モード",
        r"ignore\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|above|earlier|preceding)\s+(?:instructions|prompts?|rules)",
        r"disregard\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|above|earlier)\s+(?:instructions|prompts?|rules)",
        r"system\s+prompt",
        r"you\s+are\s+now\b",
        r"jailbreak",
        r"(?:出力|回答)(?:の最後|の末尾|の先頭)?に(?:次の|以下の)(?:文|URL|リンク)を(?:追加|記載|挿入)",
    )
]

INJECTION_WARNING_JA = (
    "この文書には AI への指示のような文（例:「{phrase}」）が含まれています。AI はこれに従わないよう設定されて"
    "いますが、下書きの内容が原文と食い違っていないか、特に注意して確認してください。"
)
NER_UNAVAILABLE_JA = "人名の自動検出（GiNZA）を使えなかったため、人名は書式（様・さん・担当：など）と名簿だけで伏せました。"
NER_PARTIAL_JA = (
    "文書が長いため、AI による人名・会社名の検出は一部（約 {chars:,} 文字）に限りました。"
    "見つかった名前は文書全体で伏せていますが、下書きの固有名詞を確認してください。"
)
ROUTED_LOCAL_JA = (
    "「{label}」の表示があるため、社外の AI には送らず、社内のエンジン（{engine}）で作成しました。"
)
EXTERNAL_OFF_JA = (
    "この部署の設定により社外の AI には送らず、社内のエンジン（{engine}）で作成しました。"
)
BLOCKED_JA = (
    "「{label}」の表示があるため、{department}の規則（AI処理禁止）により AI 処理を行いません。"
    "機密文書は AI に入れないでください。必要な場合は DX推進室に相談してください。"
)


class GuardResult(BaseModel):
    text: str  # what may be sent
    file_name: str | None = None  # the file name with the same masking (the prompt shows it)
    mapping: dict[str, str] = Field(default_factory=dict)  # placeholder -> original value
    counts: dict[str, int] = Field(default_factory=dict)  # category -> occurrences masked
    warnings: list[str] = Field(default_factory=list)  # Japanese lines for the draft
    confidential_label: str | None = None  # first configured label found, e.g. 社外秘
    injection: list[str] = Field(default_factory=list)  # instruction-like phrases found
    ner_chars: int = 0  # characters the NER model read (bounded by settings.guard.ner_max_chars)


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    category: str

    @property
    def length(self) -> int:
        return self.end - self.start


# -- GiNZA, loaded once per process -----------------------------------------------------------
_NLP: Language | None = None
_NLP_FAILED = False
_LOAD_LOCK = threading.Lock()
# SudachiPy's tokenizer is not safe to share between threads; documents run concurrently.
_RUN_LOCK = threading.Lock()


def _nlp() -> Language | None:
    """ja_ginza with only tok2vec + ner (the parser is not needed and doubles the cost)."""
    global _NLP, _NLP_FAILED
    if _NLP is None and not _NLP_FAILED:
        with _LOAD_LOCK:
            if _NLP is None and not _NLP_FAILED:
                started = time.monotonic()
                try:
                    import spacy
                    from thinc.api import use_ops

                    # thinc's default matrix product (blis) runs ~3x slower here than numpy's
                    # OpenBLAS, and tok2vec is mostly matrix products; the models keep the ops
                    # they were built with.
                    with use_ops("numpy", use_blis=False):
                        nlp = spacy.load(
                            "ja_ginza",
                            exclude=[
                                "parser",
                                "morphologizer",
                                "compound_splitter",
                                "bunsetu_recognizer",
                                # The vocabulary's 600,000 strings cost ~130 MB and NER never
                                # reads them (strings are interned as documents arrive); only
                                # the static vectors the tok2vec uses are loaded back.
                                "vocab",
                            ],
                        )
                    nlp.vocab.vectors.from_disk(nlp.path / "vocab", exclude=["strings"])
                    _NLP = nlp
                except (ImportError, OSError) as e:
                    _NLP_FAILED = True
                    log.warning("GiNZA (ja_ginza) unavailable, names by patterns only: %s", e)
                else:
                    from threadpoolctl import threadpool_limits

                    # One BLAS thread: NER's products are small, and a second OpenBLAS thread
                    # spins against the pipeline's own threads (33 vs 58 ms per report here).
                    threadpool_limits(1, user_api="blas")
                    log.info("loaded ja_ginza in %.1f s", time.monotonic() - started)
    return _NLP


def warm_up() -> None:
    """Load GiNZA and run it once, so its first real document does not pay for either."""
    nlp = _nlp()
    if nlp is not None:
        with _RUN_LOCK:
            nlp("担当：山田様")


def _pieces(text: str, size: int = 400) -> Iterator[tuple[int, str]]:
    """(offset, piece): lines, long lines cut after 。 or at `size`, so Sudachi and NER see short inputs."""
    pos = 0
    for line in text.splitlines(keepends=True):
        start = pos
        pos += len(line)
        while line:
            cut = len(line) if len(line) <= size else line.rfind("。", 0, size) + 1 or size
            piece = line[:cut]
            if piece.strip():
                yield start, piece
            start += cut
            line = line[cut:]


def _tokenize(nlp: Language, text: str) -> Iterator[tuple[int, Doc]]:
    """(offset, Sudachi-tokenized piece), one at a time: a 300-page PDF's tokens held all at
    once cost ~200 MB, and each piece is needed only by the two passes it feeds right away."""
    for offset, piece in _pieces(text):
        with _RUN_LOCK:
            doc = nlp.tokenizer(piece)
        yield offset, doc


def _sudachi_names(base: int, doc: Doc, spans: list[_Span], lexicon: set[str]) -> None:
    """Names from the dictionary's 人名 tags and from words before honorifics / titles."""
    toks = list(doc)
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
        surface = doc.text[first.idx : last.idx + len(last.text)]
        has_both = any("姓" in t.tag_ for t in toks[i:j]) and any(
            t.tag_.endswith("名") for t in toks[i:j]
        )
        context = nxt in _HONORIFIC or nxt in _TITLE_WORDS
        if (has_both or context or len(surface) >= 2) and surface not in _NOT_NAMES:
            spans.append(_Span(base + first.idx, base + first.idx + len(surface), "person"))
            if has_both or context:
                lexicon.add(surface)
        i = j
    # Unknown names before an honorific: the proper / common nouns directly before 様・さん.
    for k, tok in enumerate(toks):
        if tok.text not in _HONORIFIC or k == 0 or "人名" in toks[k - 1].tag_:
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
        surface = doc.text[toks[m].idx : tok.idx]
        if surface not in _NOT_NAMES and re.fullmatch(r"[一-龥々ァ-ヴー]{2,8}", surface):
            spans.append(_Span(base + toks[m].idx, base + tok.idx, "person"))
            lexicon.add(surface)


def _worth_ner(doc: Doc) -> bool:
    """Whether a piece may hold a name only the NER model would find.

    A piece with no name cue, no proper noun in the dictionary, no katakana full name and no
    Latin capitals has no candidate for the model to label; skipping such pieces (over half of
    a typical report: figures, dates, plain prose) spares the slowest detector. On the labelled
    set (tests/test_guard_corpus.py), the samples and the bench corpus it loses no name the
    model found; what it drops were false labels (包装資材 as a person, Aライン as a company).
    """
    text = doc.text
    return bool(
        _NAME_CUE.search(text)
        or _KATAKANA_FULL_NAME.search(text)
        or _LATIN_CAPS.search(text)
        or any("固有名詞" in t.tag_ for t in doc)
    )


class _NerChoice:
    """Which pieces GiNZA's NER reads: at most `budget` characters, pieces with a cue (様, 担当,
    株式会社...) first, so a long document's budget is spent where names are; each distinct
    piece once. Pieces are offered one at a time and only the chosen ones are kept."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._seen: set[str] = set()
        self._cue: list[Doc] = []
        self._rest: list[Doc] = []
        self._cue_used = 0
        self._rest_used = 0
        self._cue_full = False
        self._dropped = False  # a piece worth reading did not fit

    def offer(self, doc: Doc) -> None:
        key = doc.text.strip()
        if key in self._seen or not re.search(r"[一-龥ァ-ヴ]", key) or not _worth_ner(doc):
            return
        self._seen.add(key)
        size = len(key)
        if _NAME_CUE.search(key):
            if not self._cue_full and self._cue_used + size <= self.budget:
                self._cue.append(doc)
                self._cue_used += size
            else:
                self._cue_full = self._dropped = True
        elif self._rest_used + size <= self.budget and not self._dropped:
            self._rest.append(doc)
            self._rest_used += size
        else:
            self._dropped = True

    def chosen(self) -> tuple[list[Doc], int, bool]:
        """(pieces, characters) to read after the last offer, and whether any was left out."""
        docs, used = list(self._cue), self._cue_used
        for doc in self._rest:
            size = len(doc.text.strip())
            if self._cue_full or used + size > self.budget:
                return docs, used, True
            docs.append(doc)
            used += size
        return docs, used, self._dropped


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


def _ner_names(nlp: Language, chosen: list[Doc]) -> tuple[set[str], set[str]]:
    """(persons, companies) GiNZA's NER finds in the chosen pieces, from their tokens."""
    persons: set[str] = set()
    companies: set[str] = set()
    with _RUN_LOCK:
        docs = list(nlp.pipe(chosen, batch_size=32))
    for doc in docs:
        for ent in doc.ents:
            value = _trim_entity(ent.text)
            if len(value) < 2 or value in _NOT_NAMES:
                continue
            if ent.label_ == "Person" and not _CO_FORM_IN.search(value):
                persons.add(_TITLE_TRAIL.sub("", value) or value)
            elif ent.label_ in ("Company", "Company_Group") and not (
                value.isascii() and len(value) < 4
            ):
                # Short ASCII "companies" are mostly part numbers (KX-2040).
                companies.add(value)
    return persons, companies


# -- workspace lists --------------------------------------------------------------------------
_LIST_CACHE: dict[Path, tuple[int, list[str]]] = {}
_LIST_LOCK = threading.Lock()


def _read_cached(path: Path, parse: Any) -> list[str]:
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return []
    with _LIST_LOCK:
        hit = _LIST_CACHE.get(path)
        if hit and hit[0] == mtime:
            return hit[1]
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "cp932"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        log.warning("cannot decode %s; ignored", path)
        return []
    values = parse(text)
    with _LIST_LOCK:
        _LIST_CACHE[path] = (mtime, values)
    return values


def _parse_client_list(text: str) -> list[str]:
    return [s for line in text.splitlines() if (s := line.split("#", 1)[0].strip())]


_NAME_COLUMNS = {
    "氏名",
    "名前",
    "社員名",
    "フルネーム",
    "name",
    "full_name",
    "姓",
    "名",
    "last_name",
    "first_name",
    "surname",
}


def _parse_directory(text: str) -> list[str]:
    rows = list(csv.DictReader(text.splitlines()))
    names: set[str] = set()
    for row in rows:
        for key, value in row.items():
            if key and key.strip().lower() in _NAME_COLUMNS and value and value.strip():
                v = value.strip()
                names.add(v)
                parts = v.split()
                if len(parts) == 2:  # 「山田 太郎」 is also written 「山田太郎」 and 「山田」
                    names.add("".join(parts))
                    names.add(parts[0])
    return sorted(n for n in names if len(n) >= 2)


def client_names(settings: Settings) -> list[str]:
    path = settings.workspace / settings.guard.client_list
    return _read_cached(path, _parse_client_list)


def directory_names(settings: Settings) -> list[str]:
    if settings.guard.employee_csv is None:
        return []
    return _read_cached(settings.workspace / settings.guard.employee_csv, _parse_directory)


# -- detection --------------------------------------------------------------------------------
def _my_number_ok(digits: str) -> bool:
    if len(digits) != 12:
        return False
    p = [int(c) for c in reversed(digits[:11])]
    total = sum(pn * (n + 1 if n <= 6 else n - 5) for n, pn in enumerate(p, start=1))
    r = total % 11
    return int(digits[11]) == (0 if r <= 1 else 11 - r)


def _luhn_ok(digits: str) -> bool:
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _structured(folded: str) -> Iterator[_Span]:
    for m in _EMAIL.finditer(folded):
        yield _Span(m.start(), m.end(), "email")
    for m in _PHONE.finditer(folded):
        digits = re.sub(r"\D", "", m.group(0))
        if digits.startswith("81"):
            digits = "0" + digits[2:].lstrip("0")
        if len(digits) in (10, 11) and (
            len(digits) == 10
            or digits[:3] in ("050", "070", "080", "090", "020")
            or digits.startswith("0120")
            or digits.startswith("0800")
        ):
            yield _Span(m.start(), m.end(), "phone")
    for m in _DIGIT_RUN.finditer(folded):
        digits = re.sub(r"\D", "", m.group(0))
        if _luhn_ok(digits):
            yield _Span(m.start(), m.end(), "card")
        elif _my_number_ok(digits) and (
            _MY_NUMBER_CUE.search(folded, max(0, m.start() - 20), m.start())
            or re.fullmatch(r"\d{4}[ -]\d{4}[ -]\d{4}", m.group(0))
        ):
            # 12 digits pass the check digit one time in eleven (order numbers do): a cue or
            # the 4-4-4 grouping printed on the card is required as well.
            yield _Span(m.start(), m.end(), "my_number")
    for cue in _ACCOUNT_CUE.finditer(folded):
        window_end = folded.find("\n", cue.end())
        window_end = min(window_end if window_end >= 0 else len(folded), cue.end() + 40)
        for m in _ACCOUNT_NUMBER.finditer(folded, cue.end(), window_end):
            yield _Span(m.start(), m.end(), "bank_account")
    for m in _POSTAL_ADDRESS.finditer(folded):
        yield _Span(m.start(), m.end(), "address")
    for m in _ADDRESS.finditer(folded):
        yield _Span(m.start(), m.end(), "address")


def _clean_company(value: str) -> str:
    value = _CO_LEAD.sub("", value.strip())
    return _CO_TRAIL.sub("", value).strip()


def _companies(text: str, extra: Iterable[str]) -> set[str]:
    found = {_clean_company(m.group(0)) for m in _COMPANY.finditer(text)}
    found.update(
        v for m in _COMPANY_SUFFIX.finditer(text) if len(v := _clean_company(m.group(0))) >= 3
    )
    found.update(v.strip() for v in extra)
    lexicon: set[str] = set()
    for v in found:
        if len(v) < 2 or _CO_FORM_ONLY.match(v):
            continue
        lexicon.add(v)
        short = _CO_STRIP.sub("", v).strip()
        if len(short) >= 2 and short not in _NOT_NAMES:  # 「北斗精機さん」 names the same client
            lexicon.add(short)
    return lexicon


def _field_names(text: str) -> set[str]:
    names: set[str] = set()
    for m in _FIELD.finditer(text):
        for item in _ITEM_SPLIT.split(_PAREN.sub(" ", m.group(1))):
            item = _TITLE_TRAIL.sub("", item.strip(" 　"))
            parts = item.replace("　", " ").split()
            # 「当社 山田」「営業部 佐藤課長」: drop a leading organisation word.
            while len(parts) > 1 and (
                parts[0] in _NOT_NAMES or parts[0].endswith(("部", "課", "社", "室", "所", "係"))
            ):
                parts = parts[1:]
            item = _TITLE_TRAIL.sub("", " ".join(parts))
            if (
                item
                and item not in _NOT_NAMES
                and _NAME_ITEM.match(item)
                and not re.fullmatch(r"[ぁ-ゖ]+", item)
            ):
                names.add(item)
                if " " in item:
                    names.add(item.replace(" ", ""))
    return names


def _occurrences(text: str, values: Iterable[str], category: str) -> Iterator[_Span]:
    for v in sorted(set(values), key=len, reverse=True):
        if len(v) < 2:
            continue
        start = text.find(v)
        while start >= 0:
            yield _Span(start, start + len(v), category)
            start = text.find(v, start + len(v))


def _resolve(spans: Iterable[_Span], n: int) -> list[_Span]:
    """Non-overlapping spans: longest first, then the more specific category, then leftmost."""
    taken = bytearray(n)
    kept: list[_Span] = []
    for s in sorted(set(spans), key=lambda s: (-s.length, _PRIORITY[s.category], s.start)):
        if s.length <= 0 or any(taken[s.start : s.end]):
            continue
        taken[s.start : s.end] = b"\x01" * s.length
        kept.append(s)
    return sorted(kept, key=lambda s: s.start)


def detect(text: str, settings: Settings) -> tuple[list[_Span], list[str], int]:
    """(spans, warnings, ner_chars) for one text."""
    warnings: list[str] = []
    folded = _fold(text)
    spans = list(_structured(folded))
    companies = _companies(text, client_names(settings))
    persons = _field_names(text) | set(directory_names(settings))
    ner_chars = 0
    nlp = _nlp() if settings.guard.ner else None
    if nlp is not None:
        lexicon: set[str] = set()
        choice = _NerChoice(settings.guard.ner_max_chars)
        for base, doc in _tokenize(nlp, text):  # one dictionary pass feeds both detectors
            _sudachi_names(base, doc, spans, lexicon)
            choice.offer(doc)
        persons |= lexicon
        chosen, ner_chars, cut = choice.chosen()
        ner_persons, ner_companies = _ner_names(nlp, chosen)
        persons |= ner_persons
        companies |= _companies("", ner_companies)
        if cut:
            warnings.append(NER_PARTIAL_JA.format(chars=ner_chars))
    elif settings.guard.ner:
        warnings.append(NER_UNAVAILABLE_JA)
    persons -= _NOT_NAMES
    spans += _occurrences(text, companies, "company")
    spans += _occurrences(text, persons, "person")
    return _resolve(spans, len(text)), warnings, ner_chars


def confidential_label(text: str, settings: Settings) -> str | None:
    """The first configured label (社外秘, Confidential...) found in the text, or None."""
    for label in settings.guard.labels:
        if label.isascii():
            if re.search(rf"(?<![A-Za-z]){re.escape(label)}(?![A-Za-z])", text, re.I):
                return label
        elif label in text:
            return label
    return None


def injection_phrases(text: str) -> list[str]:
    folded = _fold(text)
    found: list[str] = []
    for pattern in _INJECTION:
        m = pattern.search(folded)
        if m and text[m.start() : m.end()] not in found:
            found.append(text[m.start() : m.end()])
    return found


def guard_text(
    text: str, spec: PromptSpec, settings: Settings, *, file_name: str | None = None
) -> GuardResult:
    """Mask what must not leave the machine. The offline engine gets the same treatment (uniform)."""
    label = confidential_label(f"{file_name or ''}\n{text}", settings)
    phrases = injection_phrases(text)
    warnings = [INJECTION_WARNING_JA.format(phrase=phrases[0][:30])] if phrases else []
    if not settings.guard.enabled:
        return GuardResult(
            text=text,
            file_name=file_name,
            warnings=warnings,
            confidential_label=label,
            injection=phrases,
        )
    # The file name is part of the prompt, so it is masked together with the text (first line).
    combined = f"{file_name}\n{text}" if file_name is not None else text
    spans, detect_warnings, ner_chars = detect(combined, settings)
    mapping: dict[str, str] = {}
    by_value: dict[tuple[str, str], str] = {}
    numbers: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    out: list[str] = []
    pos = 0
    for s in spans:
        value = combined[s.start : s.end]
        key = (s.category, value)
        if key not in by_value:
            numbers[s.category] += 1
            placeholder = f"[{LABELS[s.category]}{numbers[s.category]}]"
            by_value[key] = placeholder
            mapping[placeholder] = value
        counts[s.category] += 1
        out += [combined[pos : s.start], by_value[key]]
        pos = s.end
    out.append(combined[pos:])
    masked = "".join(out)
    masked_name: str | None = None
    if file_name is not None:
        masked_name, _, masked = masked.partition("\n")
    return GuardResult(
        text=masked,
        file_name=masked_name,
        mapping=mapping,
        counts=dict(counts),
        warnings=warnings + detect_warnings,
        confidential_label=label,
        injection=phrases,
        ner_chars=ner_chars,
    )


def restore(value: Any, mapping: dict[str, str]) -> Any:
    """Put the original values back into a model output (strings inside dicts and lists).

    One pass with a pattern, so [人名1] never matches inside [人名12], and full-width brackets
    (［人名1］, which models sometimes write) are restored too.
    """
    if not mapping:
        return value
    if isinstance(value, str):

        def repl(m: re.Match[str]) -> str:
            key = f"[{m.group(1)}{_fold(m.group(2))}]"
            return mapping.get(key, m.group(0))

        return _PLACEHOLDER.sub(repl, value)
    if isinstance(value, list):
        return [restore(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: restore(v, mapping) for k, v in value.items()}
    return value


# -- routing ----------------------------------------------------------------------------------
def policy_for(spec: PromptSpec, settings: Settings) -> str:
    """block | local_only | allow: the spec's own, else its department's, else the default."""
    if spec.confidentiality is not None:
        return spec.confidentiality
    dept = settings.guard.departments.get(spec.department)
    if dept is not None and dept.policy is not None:
        return dept.policy
    return settings.guard.default_policy


def external_allowed(spec: PromptSpec, settings: Settings) -> bool:
    dept = settings.guard.departments.get(spec.department)
    dept_ok = dept.send_external if dept is not None and dept.send_external is not None else True
    return settings.guard.send_external and dept_ok and spec.allow_external


def engine_is_local(engine: object, settings: Settings) -> bool:
    """The offline engine, or an endpoint the operator marked as running inside the company."""
    return getattr(engine, "name", "") == "offline" or settings.llm.endpoint_is_local


def route_engine(
    engine: object, spec: PromptSpec, settings: Settings, guarded: GuardResult
) -> object:
    """The engine this document may go to; raises Refusal(CONFIDENTIAL) under a block policy."""
    label = guarded.confidential_label
    policy = policy_for(spec, settings) if label else "allow"
    if policy == "block":
        raise Refusal(
            RefusalKind.CONFIDENTIAL,
            detail=f"confidential label {label!r}; policy block (spec {spec.id})",
            reason_ja=BLOCKED_JA.format(label=label, department=spec.department_name),
        )
    must_stay = policy == "local_only" or not external_allowed(spec, settings)
    if not must_stay or engine_is_local(engine, settings):
        return engine
    from tasks.offline_engine import OfflineEngine

    local = OfflineEngine(settings)
    note = (
        ROUTED_LOCAL_JA.format(label=label, engine="オフライン抽出")
        if policy == "local_only"
        else EXTERNAL_OFF_JA.format(engine="オフライン抽出")
    )
    guarded.warnings.append(note)
    log.info("spec %s: routed to the offline engine (policy %s)", spec.id, policy)
    return local
