"""GiNZA's NER decisions, taken with numpy over the model's own weights.

spaCy's greedy transition parser asks every one of the 758 moves (189 labels x B/I/L/U, and O)
whether it is valid, token by token, through StateC accessors that are not inlined: on the
windows the guard reads, that check costs more than the whole tok2vec (about 300 us a token
here). The NER transition system is simple enough to do the same in a few array operations:
every BILUO move consumes one token, so all windows of a call advance in lockstep, and whether
a move is valid depends only on its kind and label and on four facts about a state (an entity
open and its label, tokens left, the token a space, the next token starting a sentence).

The scores are the model's (tok2vec output -> linear -> precomputed lower layer over the three
context tokens spaCy's NER reads -> maxout -> upper layer), the moves the parser's, ties broken
to the first move as spaCy does; tests/tasks/test_ner_decode.py checks the entities are the
same as spaCy's on the labelled guard sets. A model of another shape (another feature set, no
upper layer, preset entities on the documents) is left to spaCy: `Decoder.build` returns None,
`Decoder.decode` returns None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

_KINDS = "BILUO"


class Decoder:
    """The NER component's weights and moves as arrays, ready to label tokenized windows."""

    def __init__(self, component: Any) -> None:
        model = component.model
        linear = model.get_ref("tok2vec").layers[-1]
        lower, upper = model.get_ref("lower"), model.get_ref("upper")
        self.w_in = linear.get_param("W").astype(np.float32)  # (64, 256)
        self.b_in = linear.get_param("b").astype(np.float32)
        w = lower.get_param("W").astype(np.float32)  # (nF, nO, nP, nI)
        self.n_f, self.n_o, self.n_p, n_i = w.shape
        self.w_low = w.reshape(self.n_f * self.n_o * self.n_p, n_i)
        self.b_low = lower.get_param("b").astype(np.float32)  # (nO, nP)
        self.pad = lower.get_param("pad").astype(np.float32)[0]  # (nF, nO, nP)
        self.w_up = upper.get_param("W").astype(np.float32)  # (classes, nO)
        self.b_up = upper.get_param("b").astype(np.float32)
        moves = component.moves
        names = [moves.get_class_name(i) for i in range(moves.n_moves)]
        self.kind = np.array([_KINDS.index(n[0]) for n in names], dtype=np.int8)
        labels = sorted({n[2:] for n in names if len(n) > 2})
        self.labels = ["", *labels]
        ids = {label: i + 1 for i, label in enumerate(labels)}
        self.label = np.array([ids.get(n[2:], 0) for n in names], dtype=np.int32)
        unseen = model.attrs.get("unseen_classes") or set()
        self.unseen = np.array(sorted(unseen), dtype=np.int64)
        named = self.label > 0
        self._begin = (self.kind == 0) & named
        self._in = (self.kind == 1) & named
        self._last = (self.kind == 2) & named
        self._unit = (self.kind == 3) & named
        self._out = self.kind == 4

    @classmethod
    def build(cls, nlp: Language) -> Decoder | None:
        """A decoder for the pipeline's NER, or None when its model is not the shape this reads."""
        if "ner" not in nlp.pipe_names:
            return None
        component = nlp.get_pipe("ner")
        model = component.model
        try:
            lower = model.get_ref("lower")
            if not model.attrs.get("has_upper") or lower.get_param("W").shape[0] != 3:
                return None
            names = [component.moves.get_class_name(i) for i in range(component.moves.n_moves)]
            if any(n[:1] not in _KINDS or (n != "O" and n[1:2] != "-") for n in names):
                return None
            if model.get_ref("tok2vec").layers[-1].name != "linear":
                return None
            return cls(component)
        except (KeyError, ValueError, AttributeError):
            return None

    def decode(self, docs: Sequence[Doc]) -> list[list[tuple[int, int, str]]] | None:
        """(start, end, label) of each window's entities, from the tok2vec output in doc.tensor;
        None when a document carries entity annotations the parser would have to respect."""
        docs = list(docs)
        if not docs:
            return []
        lengths = np.array([len(d) for d in docs], dtype=np.int64)
        if any(len(d) and d.tensor.shape[0] != len(d) for d in docs):
            return None
        arrays = [d.to_array(["ENT_IOB", "SENT_START", "IS_SPACE"]) for d in docs if len(d)]
        if not arrays:
            return [[] for _ in docs]
        attrs = np.concatenate(arrays).reshape(-1, 3)
        if attrs[:, 0].any():
            return None
        sent_start = np.append(attrs[:, 1] == 1, False)
        space = attrs[:, 2].astype(bool)
        tensor = np.concatenate([d.tensor for d in docs if len(d)]).astype(np.float32)
        x = tensor @ self.w_in.T + self.b_in
        cached = (x @ self.w_low.T).reshape(-1, self.n_f, self.n_o, self.n_p)
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))

        n = len(docs)
        is_open = np.zeros(n, dtype=bool)
        open_label = np.zeros(n, dtype=np.int32)
        open_start = np.zeros(n, dtype=np.int64)  # global token index of the open entity
        found: list[list[tuple[int, int, str]]] = [[] for _ in docs]
        for t in range(int(lengths.max())):
            act = np.flatnonzero(lengths > t)
            b = offsets[act] + t
            op = is_open[act]
            start = np.where(op, open_start[act], 0)
            prev = np.where(op, b - 1, 0)
            hidden = (
                cached[b, 0]
                + np.where(op[:, None, None], cached[start, 1], self.pad[1])
                + np.where(op[:, None, None], cached[prev, 2], self.pad[2])
            )
            hidden = (hidden + self.b_low).max(axis=-1)
            scores = hidden @ self.w_up.T + self.b_up
            if self.unseen.size:
                scores[:, self.unseen] = scores.min()
            left = lengths[act] - t
            two = left >= 2
            next_starts = two & sent_start[b + 1]
            sp = space[b]
            same = self.label[None, :] == open_label[act][:, None]
            valid = (
                ((~op & two & ~next_starts & ~sp)[:, None] & self._begin[None, :])
                | ((op & two & ~next_starts)[:, None] & self._in[None, :] & same)
                | (op[:, None] & self._last[None, :] & same)
                | ((~op & ~sp)[:, None] & self._unit[None, :])
                | (~op[:, None] & self._out[None, :])
            )
            guess = np.where(valid, scores, -np.inf).argmax(axis=1)
            kind, label = self.kind[guess], self.label[guess]
            for j, d in enumerate(act):
                k = kind[j]
                if k == 0:
                    is_open[d], open_label[d], open_start[d] = True, label[j], b[j]
                elif k == 2:
                    found[d].append((int(open_start[d] - offsets[d]), t + 1, self.labels[label[j]]))
                    is_open[d] = False
                elif k == 3:
                    found[d].append((t, t + 1, self.labels[label[j]]))
        return found


# Windows per tok2vec batch: its activations are rows x 768 floats per layer, so the whole of a
# 300-page report's windows at once took 2.2 GB where batches of 32 take ~600 MB in all.
BATCH = 32


def label(nlp: Language, decoder: Decoder, docs: list[Doc]) -> list[Doc] | None:
    """The windows through every component before NER, then the decoder's entities set on
    them, BATCH windows at a time; None when the decoder declines (the caller runs spaCy's
    parser instead)."""
    from spacy.tokens import Span

    if any(d.has_annotation("ENT_IOB") for d in docs):
        return None  # preset entities: spaCy's parser respects them, the decoder does not
    before = [proc for name, proc in nlp.pipeline[: nlp.pipe_names.index("ner")]]
    out: list[Doc] = []
    for i in range(0, len(docs), BATCH):
        batch = docs[i : i + BATCH]
        for proc in before:
            batch = list(proc.pipe(batch, batch_size=BATCH))
        found = decoder.decode(batch)
        if found is None:
            return None
        for doc, ents in zip(batch, found, strict=True):
            doc.ents = [Span(doc, s, e, label=lab) for s, e, lab in ents]
        out.extend(batch)
    return out
