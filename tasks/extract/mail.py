"""E-mail .eml (stdlib `email`) and Outlook .msg (extract-msg): headers, body, attachments.

Read as 件名 / 差出人 / 宛先 / 日付, then the body, then each attachment of a supported format
read by its own reader and headed with its name; others are listed by name. The body is the
text/plain part, or the HTML part turned into text with its block structure kept (paragraphs,
list items, table rows). Japanese legacy charsets are decoded the way mailers really write
them: ISO-2022-JP as CP50220 (Outlook puts ①, ㈱, ～ in it, which a strict decoder refuses),
Shift_JIS as cp932, EUC-JP, and a bad byte becomes U+FFFD instead of losing the body. Quoted
reply chains (「>」 lines, 「-----Original Message-----」) are marked as quotations so the
model can tell the new message from the old ones. Signed-and-encrypted (S/MIME, PGP) mail is
refused like a password-protected file.
"""

from __future__ import annotations

import codecs
import email
import re
import tempfile
from email import policy
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import Refusal
from core.models import ExtractedDocument, RefusalKind
from core.settings import IntakeSettings
from tasks.extract.archive import OLE_MAGIC
from tasks.extract.peek import read_head

if TYPE_CHECKING:
    from email.message import EmailMessage

QUOTE_START = "〔以下は引用（以前のメール）〕"
QUOTE_END = "〔引用ここまで〕"
_MAX_ATTACHMENTS = 20
_ENCRYPTED_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime", "multipart/encrypted")
_REPLY_HEADER = re.compile(
    r"^(-{3,}\s*(Original Message|元のメッセージ|転送メッセージ|Forwarded message)\s*-{3,}"
    r"|.{0,80}(wrote|のメッセージ|さんは書きました|書きました)[:：]?\s*)$"
)


# --------------------------------------------------------------------------- charsets


def _jis_pair_to_cp932(c1: int, c2: int) -> bytes:
    """One JIS X 0208 pair (0x21-0x7E each) as its Shift_JIS / cp932 bytes."""
    s1 = (c1 + 1) // 2 + (0x70 if c1 <= 0x5E else 0xB0)
    s2 = c2 + (0x1F if c1 % 2 else 0x7E)
    if c1 % 2 and s2 >= 0x7F:
        s2 += 1
    return bytes((s1, s2))


def decode_iso2022jp(data: bytes) -> str:
    """ISO-2022-JP as CP50220 does it: JIS X 0208 (with NEC row 13) via cp932, kana via ESC ( I."""
    out = bytearray()
    mode = "ascii"
    i = 0
    while i < len(data):
        if data[i] == 0x1B and i + 2 < len(data):
            seq = data[i + 1 : i + 3]
            mode = {b"$B": "jis", b"$@": "jis", b"(I": "kana"}.get(seq, "ascii")
            i += 3
            continue
        b = data[i]
        if mode == "jis" and 0x21 <= b <= 0x7E and i + 1 < len(data):
            out += _jis_pair_to_cp932(b, data[i + 1])
            i += 2
            continue
        out.append(b + 0x80 if mode == "kana" and 0x21 <= b <= 0x5F else b)
        i += 1
    return out.decode("cp932", errors="replace")


_ALIASES = {
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "ms932": "cp932",
    "euc-jp": "euc-jp",
    "x-euc-jp": "euc-jp",
}


def decode_part(data: bytes, charset: str | None) -> str:
    """Bytes of a text part in its declared charset, with the Microsoft variants as fallbacks."""
    name = (charset or "").lower().strip()
    if name in ("iso-2022-jp", "iso-2022-jp-2", "csiso2022jp") or b"\x1b$B" in data:
        return decode_iso2022jp(data)
    name = _ALIASES.get(name, name)
    for candidate in (name, "utf-8", "cp932", "euc-jp"):
        if not candidate:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode(name if _known(name) else "cp932", errors="replace")


def _known(codec: str) -> bool:
    try:
        codecs.lookup(codec)
    except LookupError:
        return False
    return bool(codec)


# --------------------------------------------------------------------------- HTML and quotes


def html_to_text(html: str) -> str:
    """Visible text of an HTML body, one line per block, table cells joined by 「 | 」."""
    # Not at module level: html.parser costs ~9 ms (-X importtime) on every CLI start.
    from tasks.extract.mail_html import HtmlText

    parser = HtmlText()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    return "\n".join(line for line in lines if line)


def _quote_start(stripped: str, following: list[str]) -> str | None:
    """ "chain" (all that follows is the old mail), "run" (a block of > lines) or None."""
    if stripped.startswith("-") and _REPLY_HEADER.match(stripped):
        return "chain"
    if stripped.startswith((">", "＞")):
        return "run"
    if _REPLY_HEADER.match(stripped) and any(n.lstrip().startswith(">") for n in following):
        return "run"  # 「… wrote:」 heads the > lines below it
    return None


def mark_quotes(body: str) -> str:
    """Quoted reply chains between markers: 「>」 runs, and all after an 「Original Message」 line."""
    out: list[str] = []
    quoting: str | None = None
    lines = body.split("\n")
    for i, line in enumerate(lines):
        stripped = line.strip()
        if quoting is None:
            quoting = _quote_start(stripped, lines[i + 1 : i + 3])
            if quoting:
                out.append(QUOTE_START)
        elif quoting == "run" and stripped and not stripped.startswith((">", "＞")):
            out.append(QUOTE_END)
            quoting = _quote_start(stripped, lines[i + 1 : i + 3])
            if quoting:
                out.append(QUOTE_START)
        out.append(line)
    if quoting:
        out.append(QUOTE_END)
    return "\n".join(out)


# --------------------------------------------------------------------------- assembling


def _header_lines(subject: str, sender: str, to: str, date: Any) -> list[str]:
    lines = [f"件名：{subject or '（なし）'}", f"差出人：{sender or '（不明）'}"]
    if to:
        lines.append(f"宛先：{to}")
    if date is not None:
        lines.append(f"日付：{date.year}年{date.month}月{date.day}日 {date.hour}:{date.minute:02d}")
    return lines


def _read_attachments(
    attachments: list[tuple[str, bytes]], limits: IntakeSettings
) -> tuple[list[str], list[str]]:
    """(blocks of attachments read, names of those not read) for (name, data) pairs."""
    # Imported here: the registry imports this module, so a module-level import would be a cycle.
    from tasks.extract import extract_text
    from tasks.extract.registry import reader_for

    blocks: list[str] = []
    skipped: list[str] = []
    for name, data in attachments[:_MAX_ATTACHMENTS]:
        suffix = Path(name).suffix.lower()
        if reader_for(suffix) is None or suffix in (".eml", ".msg"):
            skipped.append(name)
            continue
        with tempfile.TemporaryDirectory(prefix="teichaku-att-") as tmp:
            target = Path(tmp) / f"attachment{suffix}"
            target.write_bytes(data)
            try:
                doc = extract_text(target, limits)
            except Refusal as refusal:
                skipped.append(f"{name}（{refusal.reason_ja}）")
                continue
        blocks.append(f"■ 添付ファイル「{name}」\n{doc.text}")
    skipped.extend(name for name, _ in attachments[_MAX_ATTACHMENTS:])
    return blocks, skipped


def assemble(
    headers: list[str],
    body: str,
    attachments: list[tuple[str, bytes]],
    limits: IntakeSettings,
    source_type: str,
) -> ExtractedDocument:
    """Headers, marked body, then each readable attachment; the rest listed by name."""
    blocks, skipped = _read_attachments(attachments, limits)
    parts = ["\n".join(headers), mark_quotes(body.strip())]
    parts.extend(blocks)
    if skipped:
        parts.append("■ 読み取っていない添付ファイル：" + "、".join(skipped))
    warnings = []
    if skipped:
        warnings.append(
            "メールの添付ファイルのうち、" + "、".join(skipped) + " は読み取っていません。"
        )
    return ExtractedDocument(text="\n\n".join(parts), source_type=source_type, warnings=warnings)


# --------------------------------------------------------------------------- .eml


def _body_and_attachments(msg: EmailMessage) -> tuple[str, list[tuple[str, bytes]]]:
    plain: list[str] = []
    html: list[str] = []
    attachments: list[tuple[str, bytes]] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        ctype = part.get_content_type()
        if filename or part.get_content_disposition() == "attachment":
            attachments.append((filename or "（名前なし）", data))
        elif ctype == "text/plain":
            plain.append(decode_part(data, part.get_content_charset()))
        elif ctype == "text/html":
            html.append(html_to_text(decode_part(data, part.get_content_charset())))
    return "\n\n".join(plain or html), attachments


def _date(value: str | None) -> Any:
    if not value:
        return None
    try:
        return parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None


class _EmlReader:
    source_type = "eml"
    suffixes = frozenset({".eml"})
    in_child = False

    def read(self, path: Path, limits: IntakeSettings) -> ExtractedDocument:
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if not any(msg.get(h) for h in ("From", "Subject", "Date", "Message-ID")):
            raise Refusal(RefusalKind.CORRUPT, "no From/Subject/Date/Message-ID header: not a mail")
        if msg.get_content_type() in _ENCRYPTED_TYPES:
            raise Refusal(RefusalKind.ENCRYPTED, f"encrypted mail ({msg.get_content_type()})")
        body, attachments = _body_and_attachments(msg)  # type: ignore[arg-type]
        headers = _header_lines(
            str(msg.get("Subject", "")),
            str(msg.get("From", "")),
            str(msg.get("To", "")),
            _date(msg.get("Date")),
        )
        return assemble(headers, body, attachments, limits, self.source_type)


# --------------------------------------------------------------------------- .msg


class _MsgReader:
    source_type = "msg"
    suffixes = frozenset({".msg"})
    in_child = False

    def read(self, path: Path, limits: IntakeSettings) -> ExtractedDocument:
        if not read_head(path, 8).startswith(OLE_MAGIC):
            raise Refusal(RefusalKind.CORRUPT, "not an OLE compound file: not an Outlook .msg")
        # extract-msg ~186 ms (-X importtime), not preloaded by the forkserver (tasks.extract is): loaded only by a batch that reads a .msg.
        import extract_msg

        try:
            msg = extract_msg.openMsg(str(path))
        except Exception as e:  # extract-msg raises its own types for every broken layout
            raise Refusal(
                RefusalKind.CORRUPT, f"extract-msg: {type(e).__name__}: {e}"[:2000]
            ) from e
        try:
            body = msg.body or ""
            if not body.strip() and msg.htmlBody:
                raw = msg.htmlBody
                body = html_to_text(
                    raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
                )
            attachments = [
                (a.longFilename or a.shortFilename or "（名前なし）", a.data)
                for a in msg.attachments
                if isinstance(getattr(a, "data", None), bytes)
            ]
            headers = _header_lines(msg.subject or "", msg.sender or "", msg.to or "", msg.date)
        finally:
            msg.close()
        return assemble(headers, body, attachments, limits, self.source_type)


EML_READER = _EmlReader()
MSG_READER = _MsgReader()
