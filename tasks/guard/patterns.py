"""Structured personal data: e-mail, phone, My Number, card, bank account, postal address.

Every pattern runs on a width-folded copy of the text (spans.fold), so full-width digits match
with unchanged offsets. Check digits (My Number, Luhn) keep order numbers out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tasks.guard.spans import Span

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


def my_number_ok(digits: str) -> bool:
    if len(digits) != 12:
        return False
    p = [int(c) for c in reversed(digits[:11])]
    total = sum(pn * (n + 1 if n <= 6 else n - 5) for n, pn in enumerate(p, start=1))
    r = total % 11
    return int(digits[11]) == (0 if r <= 1 else 11 - r)


def luhn_ok(digits: str) -> bool:
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def structured(folded: str) -> Iterator[Span]:
    for m in _EMAIL.finditer(folded):
        yield Span(m.start(), m.end(), "email")
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
            yield Span(m.start(), m.end(), "phone")
    for m in _DIGIT_RUN.finditer(folded):
        digits = re.sub(r"\D", "", m.group(0))
        if luhn_ok(digits):
            yield Span(m.start(), m.end(), "card")
        elif my_number_ok(digits) and (
            _MY_NUMBER_CUE.search(folded, max(0, m.start() - 20), m.start())
            or re.fullmatch(r"\d{4}[ -]\d{4}[ -]\d{4}", m.group(0))
        ):
            # 12 digits pass the check digit one time in eleven (order numbers do): a cue or
            # the 4-4-4 grouping printed on the card is required as well.
            yield Span(m.start(), m.end(), "my_number")
    for cue in _ACCOUNT_CUE.finditer(folded):
        window_end = folded.find("\n", cue.end())
        window_end = min(window_end if window_end >= 0 else len(folded), cue.end() + 40)
        for m in _ACCOUNT_NUMBER.finditer(folded, cue.end(), window_end):
            yield Span(m.start(), m.end(), "bank_account")
    for m in _POSTAL_ADDRESS.finditer(folded):
        yield Span(m.start(), m.end(), "address")
    for m in _ADDRESS.finditer(folded):
        yield Span(m.start(), m.end(), "address")
