"""Text cleaning and garbage detection shared by every reader."""

from __future__ import annotations

import re
import unicodedata

# C0 controls except \t and \n, DEL, C1 controls, lone surrogates, and the XML non-characters:
# lxml refuses most of these when the draft .docx is written, and none carry meaning.
_BAD_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean_text(text: str) -> str:
    """Normalise newlines, drop control characters, NFC-normalise and trim."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    text = _BAD_CHARS.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def has_visible_text(text: str) -> bool:
    """True when anything but whitespace is left."""
    # Full-width space U+3000 is whitespace to str.isspace, so this covers Japanese blanks too.
    return any(not ch.isspace() for ch in text)


def _is_bad_char(ch: str) -> bool:
    o = ord(ch)
    if ch in "\n\t\r\f":
        return False
    return (
        o < 0x20
        or 0x7F <= o <= 0x9F
        or o == 0xFFFD
        or 0xE000 <= o <= 0xF8FF
        or o >= 0xF0000
        or 0xD800 <= o <= 0xDFFF
    )


def _is_readable_char(ch: str) -> bool:
    o = ord(ch)
    if o < 0x80:
        return ch.isalnum()
    return (
        0x3040 <= o <= 0x30FF  # kana
        or 0x3400 <= o <= 0x4DBF
        or 0x4E00 <= o <= 0x9FFF  # CJK ideographs
        or 0xFF10 <= o <= 0xFF5A  # full-width alphanumerics
        or 0xFF66 <= o <= 0xFF9F  # half-width katakana
        or 0xAC00 <= o <= 0xD7A3  # hangul
        or (o < 0x250 and ch.isalpha())  # Latin with accents
    )


def garbage_ratio(text: str) -> tuple[float, float]:
    """(share of unreadable characters, share of letters) among the non-space characters."""
    # Not str.isspace: it counts some control characters as space, and those are the signal.
    chars = [ch for ch in text if ch not in " \t\n\r\u3000"]
    if not chars:
        return 0.0, 1.0
    bad = sum(1 for ch in chars if _is_bad_char(ch))
    good = sum(1 for ch in chars if _is_readable_char(ch))
    return bad / len(chars), good / len(chars)


def looks_garbled(text: str, *, check_letters: bool) -> str | None:
    """A reason when the text is mostly mojibake (broken PDF CMaps, binary read as text)."""
    bad, good = garbage_ratio(text)
    visible = sum(1 for ch in text if not ch.isspace())
    if visible >= 10 and bad > 0.10:
        return f"garbled text layer: {bad:.0%} replacement/private-use/control characters"
    if check_letters and visible >= 50 and good < 0.30:
        return f"garbled text layer: only {good:.0%} letters (CJK/kana/Latin/digits)"
    return None
