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

from threadpoolctl import threadpool_limits

from tasks.guard.names import KATAKANA_FULL_NAME, LATIN_CAPS, NAME_CUE

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

log = logging.getLogger(__name__)

_NLP: Language | None = None
_NLP_FAILED = False
_LOAD_LOCK = threading.Lock()
# SudachiPy's tokenizer is not safe to share between threads; documents run concurrently.
_RUN_LOCK = threading.Lock()


def load() -> Language | None:
    """ja_ginza with only tok2vec + ner (the parser is not needed and doubles the cost)."""
    global _NLP, _NLP_FAILED
    if _NLP is None and not _NLP_FAILED:
        with _LOAD_LOCK:
            if _NLP is None and not _NLP_FAILED:
                started = time.monotonic()
                try:
                    # spaCy and thinc: ~0.8 s to import, paid by the first document guarded only.
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
                    # One BLAS thread: NER's products are small, and a second OpenBLAS thread
                    # spins against the pipeline's own threads (33 vs 58 ms per report here).
                    threadpool_limits(1, user_api="blas")
                    log.info("loaded ja_ginza in %.1f s", time.monotonic() - started)
    return _NLP


def warm_up() -> None:
    """Load GiNZA and run it once, so its first real document does not pay for either."""
    model = load()
    if model is not None:
        with _RUN_LOCK:
            model("担当：山田様")


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


def tokenize(nlp: Language, text: str) -> Iterator[tuple[int, Doc]]:
    """(offset, Sudachi-tokenized piece), one at a time: a 300-page PDF's tokens held all at
    once cost ~200 MB, and each piece is needed only by the two passes it feeds right away."""
    for offset, piece in pieces(text):
        with _RUN_LOCK:
            doc = nlp.tokenizer(piece)
        yield offset, doc


def tokenize_one(nlp: Language, text: str) -> Doc:
    """A short text through the dictionary alone (a word's parts), under the tokenizer's lock."""
    with _RUN_LOCK:
        return nlp.tokenizer(text)


def _worth_ner(doc: Doc) -> bool:
    """Whether a piece may hold a name only the NER model would find.

    A piece with no name cue, no proper noun in the dictionary, no katakana full name and no
    Latin capitals has no candidate for the model to label; skipping such pieces (over half of
    a typical report: figures, dates, plain prose) spares the slowest detector. On the labelled
    set (tests/tasks/test_guard_corpus.py), the samples and the bench corpus it loses no name the
    model found; what it drops were false labels (包装資材 as a person, Aライン as a company).
    """
    text = doc.text
    return bool(
        NAME_CUE.search(text)
        or KATAKANA_FULL_NAME.search(text)
        or LATIN_CAPS.search(text)
        or any("固有名詞" in t.tag_ for t in doc)
    )


class NerChoice:
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
        if NAME_CUE.search(key):
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


def run_ner(nlp: Language, chosen: list[Doc]) -> list[Doc]:
    """The chosen pieces with GiNZA's entities set."""
    with _RUN_LOCK:
        return list(nlp.pipe(chosen, batch_size=32))
