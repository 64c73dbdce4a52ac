"""GiNZA (ja_ginza), loaded once per process: the SudachiPy tokenizer for the whole text, and
the NER model for the pieces worth its cost (NerChoice, bounded by guard.ner_max_chars).

tasks.guard_preload imports this in the workers' forkserver, so each worker forks with the model
already in memory.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tasks.guard.names import (
    COMMON_LATIN,
    HONORIFIC,
    KATAKANA_FULL_NAME,
    LATIN_CAPS,
    NAME_CUE,
    TITLE_WORDS,
)
from tasks.guard.piece import Piece, Tok

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc
    from spacy.vocab import Vocab

    from tasks.guard.ner_decode import Decoder

log = logging.getLogger(__name__)

_NLP: Language | None = None
_DECODER: Decoder | None = None  # for _NLP, built with it (None: spaCy's parser decides)
_NLP_FAILED = False
_LOAD_LOCK = threading.Lock()
# SudachiPy's tokenizer is not safe to share between threads; documents run concurrently.
_RUN_LOCK = threading.Lock()


def load() -> Language | None:
    """ja_ginza with only tok2vec + ner (the parser is not needed and doubles the cost)."""
    global _NLP, _NLP_FAILED, _DECODER
    if _NLP is None and not _NLP_FAILED:
        with _LOAD_LOCK:
            if _NLP is None and not _NLP_FAILED:
                started = time.monotonic()
                try:
                    # spaCy and thinc: ~0.8 s to import, paid by the first document guarded only
                    # (in a batch: by the worker server); numpy with the decoder, ~0.13 s, which
                    # a batch's main process, guarding nothing, no longer imports.
                    import spacy
                    from thinc.api import use_ops
                    from threadpoolctl import threadpool_limits

                    from tasks.guard.ner_decode import Decoder

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
                    _DECODER = Decoder.build(nlp)
                    _NLP = nlp
                except (ImportError, OSError) as e:
                    _NLP_FAILED = True
                    log.warning("GiNZA (ja_ginza) unavailable, names by patterns only: %s", e)
                else:
                    # One BLAS thread: NER's products are small, and a second OpenBLAS thread
                    # spins against the pipeline's own threads (33 vs 58 ms per report here).
                    threadpool_limits(1, user_api="blas")
                    log.info("loaded ja_ginza in %.1f s", time.monotonic() - started)
    return _NLP


def warm_up() -> None:
    """Load GiNZA and run it once, so its first real document does not pay for either."""
    model = load()
    if model is not None:
        run_ner(model, [tokenize_one(model, "担当：山田様").doc(model.vocab)])


def pieces(text: str, size: int = 400) -> Iterator[tuple[int, str]]:
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


_TAGS: dict[int, str] = {}  # Sudachi part-of-speech id -> spaCy's tag string


def _tokens(nlp: Language, text: str) -> Piece:
    """The tokens spaCy's Japanese tokenizer makes, with only what the guard and NER read: words,
    spaces and tags (tok2vec embeds ORTH and SHAPE and the static vectors by ORTH), as a Piece;
    a spaCy Doc is made only for the windows NER reads (Piece.doc).

    spaCy's tokenizer also takes every word's split-mode A and B parts, lemma, norm, reading,
    inflection and a bigram part-of-speech: three quarters of its cost, and read by nothing
    here. Words, tags and spaces are built by the same rules (empty surfaces dropped, runs of
    空白 merged, spaces aligned as spaCy's get_dtokens_and_spaces aligns them: `_aligned`);
    tests/tasks/test_ner_decode.py checks they equal spaCy's on the labelled sets."""
    sudachi = getattr(nlp.tokenizer, "tokenizer", None)
    if sudachi is None:  # not GiNZA's Japanese tokenizer: take it as it is
        return Piece.of(nlp.tokenizer(text))
    found: list[tuple[str, str]] = []  # (surface, tag)
    for m in sudachi.tokenize(text):
        surface = m.surface()
        if not surface:
            continue
        pos_id = m.part_of_speech_id()
        tag = _TAGS.get(pos_id)
        if tag is None:
            tag = _TAGS[pos_id] = "-".join(x for x in m.part_of_speech()[:4] if x != "*")
        if (
            found
            and tag == _GAP
            and surface.isspace()
            and found[-1][1] == _GAP
            and found[-1][0].isspace()
        ):
            continue
        found.append((surface, tag))
    return _aligned(text, found)


_GAP = "空白"


def _aligned(text: str, found: list[tuple[str, str]]) -> Piece:
    """spaCy's get_dtokens_and_spaces (spacy/lang/ja), building the Piece directly: whitespace
    between words becomes one 空白 token, a single ASCII space after a word that word's trailing
    space, and the tokens' texts and spaces write `text` exactly."""
    if not found:
        return Piece(text, ())
    if all(word.isspace() for word, _ in found):
        return Piece(text, (Tok(text, _GAP, 0, ""),))
    toks: list[Tok] = []
    pos, n = 0, len(found)
    for i, (word, tag) in enumerate(found):
        if word.isspace():
            continue
        start = text.find(word, pos)
        if start < 0:  # spaCy raises the same (E194): the dictionary's words are not the text's
            raise ValueError(f"words do not match the text: {text!r}")
        if start > pos:
            toks.append(Tok(text[pos:start], _GAP, pos, ""))
        space = i + 1 < n and found[i + 1][0] == " "
        toks.append(Tok(word, tag, start, " " if space else ""))
        pos = start + len(word) + space
    if pos < len(text):
        toks.append(Tok(text[pos:], _GAP, pos, ""))
    return Piece(text, tuple(toks))


def tokenize(nlp: Language, text: str) -> Iterator[tuple[int, Piece]]:
    """(offset, Sudachi-tokenized piece), one at a time: a 300-page PDF's tokens held all at
    once cost ~200 MB, and each piece is needed only by the two passes it feeds right away."""
    for offset, part in pieces(text):
        with _RUN_LOCK:
            piece = _tokens(nlp, part)
        yield offset, piece


def tokenize_one(nlp: Language, text: str) -> Piece:
    """A short text through the dictionary alone (a word's parts), under the tokenizer's lock."""
    with _RUN_LOCK:
        return _tokens(nlp, text)


def _worth_ner(piece: Piece) -> bool:
    """Whether a piece may hold a name only the NER model would find.

    A piece with no name cue, no proper noun in the dictionary, no katakana full name and no
    Latin capitals has no candidate for the model to label; skipping such pieces (over half of
    a typical report: figures, dates, plain prose) spares the slowest detector. On the labelled
    set (tests/tasks/test_guard_corpus.py), the samples and the bench corpus it loses no name the
    model found; what it drops were false labels (包装資材 as a person, Aライン as a company).
    """
    text = piece.text
    return bool(
        NAME_CUE.search(text)
        or KATAKANA_FULL_NAME.search(text)
        or LATIN_CAPS.search(text)
        or any("固有名詞" in t.tag_ for t in piece.tokens)
    )


# Tokens of context each side of a candidate. tok2vec's 8 layers of window 1 could see 8 each
# way, but what decides a label is the word's neighbours (は, 様, 社長, の前身): on both labelled
# guard sets 3, 5 and 8 find exactly the same names (8: 225 characters read per realistic
# bench document, 3: 120; the whole piece: 663).
WINDOW = 3
_KATAKANA_WORD = re.compile(r"^[ァ-ヴ][ァ-ヴー]+$")
_CUE_TOKENS = HONORIFIC | TITLE_WORDS


_NO, _ALWAYS, _ONCE = 0, 1, 2


def _candidate(tok: Tok, nxt: str) -> int:
    """Whether the model should read around a noun no cheap detector labelled: _ALWAYS for a
    proper noun (places apart), Latin capitals (model numbers apart) or the word before an
    honorific or a title; _ONCE for a katakana common noun (foreign names and brands the
    dictionary takes for common nouns: ゴーン, リクルート; this is what the model adds on the
    labelled sets), _NO otherwise.

    Katakana common nouns are nineteen in twenty candidates in realistic business text (ライン,
    センサー, ロット...), the same words again and again. A name the model finds is masked at
    every occurrence (Found.occurrences), so each distinct katakana word is read once per
    document, at its first occurrence (pieces with a cue first); before an honorific or a title
    it is read wherever it stands. `nxt` is the next token's text ("" at the end)."""
    tag = tok.tag_
    if "固有名詞" in tag and "地名" not in tag:
        return _ALWAYS
    if not tag.startswith("名詞"):
        return _NO
    text = tok.text
    if LATIN_CAPS.search(text) and not _KATAKANA_WORD.match(text):
        # KX-2000, HM-15, No.3: a model or item number, not a name.
        return _NO if nxt[:1] in "-‐0123456789" or text in COMMON_LATIN else _ALWAYS
    if nxt in _CUE_TOKENS:
        return _ALWAYS
    if _KATAKANA_WORD.match(text) and "地名" not in tag:
        return _ONCE
    return _NO


def windows(
    base: int,
    piece: Piece,
    covered: bytearray,
    read_once: set[str] | None = None,
    *,
    vocab: Vocab,
) -> list[Doc]:
    """The parts of a piece the model must read: WINDOW tokens around every candidate a cheap
    detector has not already masked (`covered`: 1 for each character of the text inside a span
    found by the patterns, the lists, the dictionary or the fields). A piece whose candidates are
    all masked already has nothing left for the model. `read_once` holds the katakana words
    already read in this document (see `_candidate`); new ones are added."""
    read_once = set() if read_once is None else read_once
    spans: list[list[int]] = []
    toks = piece.tokens
    for i, tok in enumerate(toks):
        start = base + tok.idx
        kind = _candidate(tok, toks[i + 1].text if i + 1 < len(toks) else "")
        if kind == _NO or all(covered[start : start + len(tok.text)]):
            continue
        if kind == _ONCE:
            if tok.text in read_once:
                continue
            read_once.add(tok.text)
        lo, hi = max(0, i - WINDOW), min(len(toks), i + WINDOW + 1)
        if spans and lo <= spans[-1][1]:
            spans[-1][1] = hi
        else:
            spans.append([lo, hi])
    return [piece.doc(vocab, lo, hi) for lo, hi in spans]


class NerChoice:
    """Which parts GiNZA's NER reads: windows around the candidates no cheap detector masked
    (see `windows`), at most `budget` characters, pieces with a cue (様, 担当, 株式会社...) first,
    so a long document's budget is spent where names are; each distinct piece once.

    Pieces are offered during the dictionary pass; the windows are cut at the end, when every
    cheap detector has run (a name found late is masked everywhere, so it covers earlier pieces
    too). What is held meanwhile is bounded by `_HOLD` times the budget, at least `_HOLD_MIN`
    characters (a 300-page PDF's tokens held all at once cost ~200 MB)."""

    _HOLD = 4
    _HOLD_MIN = 20_000

    def __init__(self, budget: int, vocab: Vocab) -> None:
        self.budget = budget
        self._vocab = vocab
        self._seen: set[str] = set()
        self._cue: list[tuple[int, Piece]] = []
        self._rest: list[tuple[int, Piece]] = []
        self._held = 0
        self._dropped = False  # a piece worth reading could not be held

    def offer(self, base: int, piece: Piece) -> None:
        key = piece.text.strip()
        if key in self._seen or not re.search(r"[一-龥ァ-ヴ]", key) or not _worth_ner(piece):
            return
        self._seen.add(key)
        if self._held + len(key) > max(self._HOLD * self.budget, self._HOLD_MIN):
            self._dropped = True
            return
        self._held += len(key)
        (self._cue if NAME_CUE.search(key) else self._rest).append((base, piece))

    def chosen(self, covered: bytearray) -> tuple[list[Doc], int, bool]:
        """(parts, characters) to read after the last offer, and whether any was left out."""
        docs: list[Doc] = []
        used = 0
        read_once: set[str] = set()
        for base, piece in self._cue + self._rest:
            for part in windows(base, piece, covered, read_once, vocab=self._vocab):
                size = len(part.text.strip())
                if used + size > self.budget:
                    return docs, used, True
                docs.append(part)
                used += size
        return docs, used, self._dropped


def run_ner(nlp: Language, chosen: list[Doc]) -> list[Doc]:
    """The chosen pieces with GiNZA's entities set: tok2vec by spaCy, the entity decisions by
    tasks.guard.ner_decode (the same entities at a twelfth of the parser's cost), spaCy's
    parser when the decoder declines."""
    from tasks.guard.ner_decode import Decoder, label

    decoder = _DECODER if nlp is _NLP else Decoder.build(nlp)
    with _RUN_LOCK:
        if decoder is not None:
            labelled = label(nlp, decoder, chosen)
            if labelled is not None:
                return labelled
        return list(nlp.pipe(chosen, batch_size=32))
