"""HTML mail bodies to text, block structure kept (imported only when a mail has HTML)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any, ClassVar

from tasks.extract.mail import QUOTE_END, QUOTE_START


class HtmlText(HTMLParser):
    """Visible text: one line per block, 「・」 list items, 「 | 」 between table cells."""

    _BLOCK: ClassVar[frozenset[str]] = frozenset(
        {
            "p",
            "div",
            "br",
            "tr",
            "li",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "table",
            "blockquote",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._cells = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip += 1
        elif tag in ("td", "th"):
            if self._cells:
                self.parts.append(" | ")
            self._cells += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
            self._cells = 0
            if tag == "li":
                self.parts.append("・")
            if tag == "blockquote":
                self.parts.append(QUOTE_START + "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self.parts.append("\n" + QUOTE_END + "\n")
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(" ".join(data.split()) if data.strip() else "")
