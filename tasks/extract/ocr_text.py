"""Clean-up of OCR output: Japanese spacing and the ways OCR garbles numbers, never a new digit.

Tesseract's Japanese model reads a page character by character: it puts a space between every
two CJK characters, reads some digits as circled numbers (「①⑧」 for 18, 「⑳②⑤」 for 2025) and
swaps or doubles the separators of amounts (「3.860,000円」, 「4280,.000円」). Each rule below
only removes or replaces a character that OCR put there; digits are never added, and a number
that cannot be repaired is left as it was (the draft says figures must be checked on paper).
"""

from __future__ import annotations

import re
import unicodedata

# Hiragana, katakana, CJK ideographs, the CJK punctuation block and full-width forms.
_CJK = r"\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}]) +(?=[{_CJK}])")
_SPACE_CJK_DIGIT = re.compile(rf"(?<=[{_CJK}]) +(?=[0-9])|(?<=[0-9]) +(?=[{_CJK}])")
_SPACE_IN_NUMBER = re.compile(r"(?<=[0-9]) (?=[0-9]{3}(?![0-9]))|(?<=[0-9][,.]) (?=[0-9])")
# Circled numbers ①-⑳ (U+2460-2473) and ㉑-㊿: the jpn model's reading of plain digits.
_CIRCLED = re.compile("[\u2460-\u2473\u3251-\u325f\u32b1-\u32bf]")
# ",." or ".," between digit groups: one separator read twice.
_DOUBLE_SEPARATOR = re.compile(r"(?<=[0-9])[.,]{2}(?=[0-9]{3}(?![0-9]))")
# A run of digit groups whose separators disagree: 3.860,000 (a comma read as a period).
_GROUPED = re.compile(r"(?<![0-9.,])[0-9]{1,3}(?:[.,][0-9]{3})+(?![0-9]|[.,][0-9])")
# A separator dropped before the first group: 4280,000 -> 4,280,000 (nothing but a comma added).
_DROPPED_FIRST = re.compile(r"(?<![0-9.,])([0-9]{1,3})([0-9]{3})(?=(?:,[0-9]{3})+(?![0-9]))")
# Full-width digits and Latin letters, and a full-width comma or period between digits.
_FULL_WIDTH = re.compile(
    "[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]|(?<=[0-9０-９])[，．](?=[0-9０-９])"
)
# Same-width look-alikes inside a number: O/o for 0, l/I for 1 (only between digits).
_LOOKALIKE = str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1", "|": "1"})
_LOOKALIKE_IN_NUMBER = re.compile(r"(?<=[0-9])[Ool|I](?=[0-9])")


# The kanji 一 (one) between katakana is the long-vowel mark ー (「ヒ一タ一」 -> 「ヒーター」).
_KANJI_ONE_IN_KATAKANA = re.compile("(?<=[\u30a1-\u30fa\u30fc])\u4e00")


def _circled_value(match: re.Match[str]) -> str:
    return unicodedata.normalize("NFKC", match.group())


def _unify_separators(match: re.Match[str]) -> str:
    """3.860,000 -> 3,860,000: with three or more groups, a thousands grouping is meant."""
    number = match.group()
    groups = re.split(r"[.,]", number)
    separators = set(re.findall(r"[.,]", number))
    # Two periods or mixed separators over three groups cannot be a decimal: it is a grouping.
    if len(groups) >= 3 and (len(separators) == 2 or number.count(".") >= 2):
        return ",".join(groups)
    return number


def clean_ocr_text(text: str) -> str:
    """OCR text with Japanese spacing restored and number misreadings undone (no digit added)."""
    text = _CIRCLED.sub(_circled_value, text)
    # NFKC on those only, so that full-width punctuation and half-width kana stay as printed.
    text = _FULL_WIDTH.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    text = _LOOKALIKE_IN_NUMBER.sub(lambda m: m.group().translate(_LOOKALIKE), text)
    text = _SPACE_IN_NUMBER.sub("", text)
    text = _DOUBLE_SEPARATOR.sub(",", text)
    text = _GROUPED.sub(_unify_separators, text)
    text = _DROPPED_FIRST.sub(r"\1,\2", text)
    text = _KANJI_ONE_IN_KATAKANA.sub("\u30fc", text)
    for _ in range(2):  # overlapping matches: "a b c" needs a second pass for the second gap
        text = _SPACE_BETWEEN_CJK.sub("", text)
    text = _SPACE_CJK_DIGIT.sub("", text)
    return text
