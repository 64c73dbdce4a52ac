"""The numpy NER decoder takes GiNZA's decisions: on the labelled guard sets (bench/guard/*.txt,
read as data), whole pieces and the windows the guard reads, every entity is
the one spaCy's own transition parser sets; documents with preset entities go to spaCy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tasks.guard import ner
from tasks.guard.ner_decode import Decoder, label

SETS = Path(__file__).resolve().parents[2] / "bench" / "guard"
MARK = re.compile(r"\{[PCO]\|([^{}]+)\}")  # {P|山田} -> 山田

nlp = ner.load()
pytestmark = pytest.mark.skipif(nlp is None, reason="GiNZA (ja_ginza) is not installed")


def _texts() -> list[str]:
    lines = [
        line
        for name in ("tuning.txt", "held_apart.txt")
        for line in (SETS / name).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return [MARK.sub(r"\1", line) for line in lines]


def _fresh(docs):
    from spacy.tokens import Doc

    return [Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]) for d in docs]  # fmt: skip


def _ents(docs) -> list[list[tuple[int, int, str]]]:
    return [[(e.start, e.end, e.label_) for e in d.ents] for d in docs]


@pytest.fixture(scope="module")
def decoder() -> Decoder:
    built = Decoder.build(nlp)
    assert built is not None, "ja_ginza's NER is the shape the decoder reads"
    return built


@pytest.fixture(scope="module")
def pieces() -> list:
    return [ner.tokenize_one(nlp, p) for t in _texts() for _, p in ner.pieces(t)]


def test_same_entities_as_spacy_on_whole_pieces(decoder: Decoder, pieces: list) -> None:
    expected = _ents(nlp.pipe(_fresh(pieces), batch_size=32))
    got = _ents(label(nlp, decoder, _fresh(pieces)))
    assert sum(map(len, expected)) > 500  # the sets hold names, places, dates, amounts
    assert got == expected


def test_same_entities_on_the_windows_the_guard_reads(decoder: Decoder, pieces: list) -> None:
    nothing_covered = bytearray(100_000)
    windows = [w for p in pieces for w in ner.windows(0, p, nothing_covered, vocab=nlp.vocab)]
    assert len(windows) > len(pieces) / 2
    for i in range(0, len(windows), 37):  # the guard's calls: a few dozen windows at once
        batch = windows[i : i + 37]
        assert _ents(label(nlp, decoder, _fresh(batch))) == _ents(nlp.pipe(_fresh(batch)))


def test_run_ner_labels_through_the_decoder_and_marks_persons(decoder: Decoder) -> None:
    (doc,) = ner.run_ner(
        nlp, [ner.tokenize_one(nlp, "本日はカルロス・ゴーン氏と面談した。").doc(nlp.vocab)]
    )
    assert any(e.label_ == "Person" and "ゴーン" in e.text for e in doc.ents)


def test_preset_entities_are_left_to_spacy(decoder: Decoder) -> None:
    from spacy.tokens import Span

    doc = ner.tokenize_one(nlp, "山田太郎さんが来社した。").doc(nlp.vocab)
    doc.ents = [Span(doc, 0, 1, label="Person")]
    (tagged,) = [nlp.get_pipe("tok2vec")(doc)]
    assert decoder.decode([tagged]) is None
    assert label(nlp, decoder, [doc]) is None
    (through_spacy,) = ner.run_ner(nlp, [doc])
    assert through_spacy.ents and through_spacy.ents[0].start == 0


def test_lean_tokens_are_spacys_tokens() -> None:
    """ner._tokens skips what spaCy's Japanese tokenizer computes and nobody reads; the words,
    tags, spaces and offsets it keeps are spaCy's, spaces and odd characters included."""
    texts = [p for t in _texts() for _, p in ner.pieces(t)]
    texts += ["  全角　　スペース\t\tタブ  \n\n  ", " ", "…・・・", "ＡＢＣ　株式会社　 山田 様", "\u3000\u3000"]  # fmt: skip

    def key(doc):
        return [(t.text, t.tag_, t.whitespace_, t.idx, t.is_space) for t in doc]

    for text in texts:
        piece = ner._tokens(nlp, text)
        assert key(piece) == key(nlp.tokenizer(text)), text
        assert piece.text == text == "".join(t.text + t.whitespace_ for t in piece)
        # and the Doc made for the model holds the same tokens
        assert key(piece.doc(nlp.vocab)) == key(nlp.tokenizer(text)), text
