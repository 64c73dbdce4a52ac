"""All detectors over one text, and the spans to mask: patterns on the whole text, the
dictionary (SudachiPy) on the whole text, GiNZA's NER on the pieces worth it, the workspace lists.

Every name found once is masked wherever it occurs; overlapping spans resolve longest-first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from core.settings import Settings
from tasks.guard import ner
from tasks.guard.lists import client_lexicon, directory_names
from tasks.guard.names import (
    ERA_DATE,
    LEGAL_FORM_EDGE,
    NOT_NAMES,
    companies,
    field_names,
    ner_names,
    sudachi_names,
)
from tasks.guard.patterns import structured
from tasks.guard.spans import Span, fold, occurrences, resolve
from tasks.guard.tagged import generic_facility, tagged_names

NER_UNAVAILABLE_JA = "人名の自動検出（GiNZA）を使えなかったため、人名は書式（様・さん・担当：など）と名簿だけで伏せました。"
NER_PARTIAL_JA = (
    "文書が長いため、AI による人名・会社名の検出は一部（約 {chars:,} 文字）に限りました。"
    "見つかった名前は文書全体で伏せていますが、下書きの固有名詞を確認してください。"
)


def detect(text: str, settings: Settings) -> tuple[list[Span], list[str], int]:
    """(spans, warnings, ner_chars) for one text."""
    warnings: list[str] = []
    spans = list(structured(fold(text)))
    # companies() is a union over names, so the client list's part is derived once per list.
    found = Found(companies(text, ()) | client_lexicon(settings), field_names(text))
    found.persons |= set(directory_names(settings))
    ner_chars = 0
    nlp = ner.load() if settings.guard.ner else None
    if nlp is not None:
        choice = ner.NerChoice(settings.guard.ner_max_chars, nlp.vocab)
        for base, piece in ner.tokenize(nlp, text):  # one dictionary pass feeds both detectors
            sudachi_names(base, piece, spans, found.persons)
            found.add(text, tagged_names(base, piece), spans)
            choice.offer(base, piece)
        chosen, ner_chars, cut = choice.chosen(covered(len(text), spans, found.occurrences(text)))
        ner_persons, ner_companies = ner_names(ner.run_ner(nlp, chosen))
        found.persons |= ner_persons
        found.companies |= companies("", {c for c in ner_companies if not generic_facility(c)})
        if cut:
            warnings.append(NER_PARTIAL_JA.format(chars=ner_chars))
    elif settings.guard.ner:
        warnings.append(NER_UNAVAILABLE_JA)
    spans += found.occurrences(text)
    spans = [s for s in spans if not _era_date(text, s)]
    return share_legal_forms(text, resolve(spans, len(text))), warnings, ner_chars


def covered(n: int, *groups: Iterable[Span]) -> bytearray:
    """1 for every character inside a span the cheap detectors found: where NER adds nothing."""
    mask = bytearray(n)
    for group in groups:
        for s in group:
            mask[s.start : s.end] = b"\x01" * s.length
    return mask


def _era_date(text: str, span: Span) -> bool:
    """令和7年, R7年, 明治5年: an era name (or its letter) before a number writes a date and is
    never masked, whoever found it (株式会社明治 makes 明治 a name, not 明治5年)."""
    m = ERA_DATE.match(text, span.start)
    return m is not None and span.end < m.end()


def share_legal_forms(text: str, spans: list[Span]) -> list[Span]:
    """A client written both with and without its legal form (株式会社青葉製作所, 青葉製作所) gets
    one placeholder: the form stays outside it (株式会社[会社1] ... [会社1]), so the model reads
    one company and the draft restores each spelling exactly."""
    bare = {text[s.start : s.end] for s in spans if s.category == "company"}
    out: list[Span] = []
    for s in spans:
        value = text[s.start : s.end]
        m = LEGAL_FORM_EDGE.search(value) if s.category == "company" else None
        if m is not None:
            name = (value[: m.start()] + value[m.end() :]).strip(" 　")
            if name in bare and name != value:
                offset = value.index(name)
                s = Span(s.start + offset, s.start + offset + len(name), s.category)
        out.append(s)
    return out


@dataclass
class Found:
    """Names found anywhere in the document, each to be masked wherever it occurs."""

    companies: set[str] = field(default_factory=set)
    persons: set[str] = field(default_factory=set)
    others: set[str] = field(default_factory=set)

    def add(self, text: str, tagged: Iterable[Span], spans: list[Span]) -> None:
        """Names the dictionary's tags show: the span itself, and its value for everywhere else
        (a one-character name only where it was found: 堀 also writes 外堀)."""
        into = {"company": self.companies, "person": self.persons, "proper_noun": self.others}
        for s in tagged:
            spans.append(s)
            if s.length >= 2:
                into[s.category].add(text[s.start : s.end])

    def occurrences(self, text: str) -> list[Span]:
        return [
            *occurrences(text, self.companies, "company"),
            *occurrences(text, self.persons - NOT_NAMES, "person"),
            *occurrences(text, self.others, "proper_noun"),
        ]
