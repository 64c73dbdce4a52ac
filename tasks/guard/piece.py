"""A piece of a document as the guard's cheap detectors read it: its text and its dictionary
tokens as plain Python objects. A spaCy Doc is made only for what the NER model reads.

Each piece used to be a spaCy Doc: building it (every word and tag interned in the vocabulary),
iterating it (a new Token object per token each time) and joining its text again were a fifth of
the guard's CPU, for five passes that read only a token's text, tag, offset and trailing space.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc
    from spacy.vocab import Vocab


@dataclass(frozen=True, slots=True)
class Tok:
    """One dictionary token: what the guard reads of a spaCy Token, by the same names."""

    text: str
    tag_: str  # Sudachi's part of speech, spaCy's spelling (名詞-固有名詞-人名-姓)
    idx: int  # offset in the piece's text
    whitespace_: str  # " " when an ASCII space follows it, else ""

    @property
    def is_space(self) -> bool:
        return self.text.isspace()


@dataclass(frozen=True, slots=True)
class Piece:
    """A piece's text and its tokens (their texts and spaces write the text exactly)."""

    text: str
    tokens: tuple[Tok, ...]

    def __iter__(self) -> Iterator[Tok]:
        return iter(self.tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    def doc(self, vocab: Vocab, lo: int = 0, hi: int | None = None) -> Doc:
        """Tokens lo:hi as a spaCy Doc (words, spaces, tags): what `Doc[lo:hi].as_doc()` gave."""
        from spacy.tokens import Doc

        toks = self.tokens[lo:hi]
        return Doc(
            vocab,
            words=[t.text for t in toks],
            spaces=[bool(t.whitespace_) for t in toks],
            tags=[t.tag_ for t in toks],
        )

    @classmethod
    def of(cls, doc: Doc) -> Piece:
        """A Doc's text and tokens (a pipeline whose tokenizer is not GiNZA's)."""
        return cls(doc.text, tuple(Tok(t.text, t.tag_, t.idx, t.whitespace_) for t in doc))
