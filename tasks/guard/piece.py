"""A piece's text and tokens, taken from spaCy once.

`Doc.text` joins the tokens again on every access, and iterating a Doc makes new Token objects
each time; a piece is read by five passes (the dictionary's names, the tagged names twice, the
NER choice and its windows), which made ~5,000 Token objects a document (a fifth of the guard's
cost without NER). They are kept in the Doc's user_data the first time they are asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

_TEXT = "teichaku.text"
_TOKENS = "teichaku.tokens"


def text_of(doc: Doc) -> str:
    """doc.text, joined once."""
    text = doc.user_data.get(_TEXT)
    if text is None:
        text = doc.user_data[_TEXT] = doc.text
    return text


def tokens_of(doc: Doc) -> list[Token]:
    """list(doc), made once."""
    toks = doc.user_data.get(_TOKENS)
    if toks is None:
        toks = doc.user_data[_TOKENS] = list(doc)
    return toks
