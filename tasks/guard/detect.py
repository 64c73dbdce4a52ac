"""All detectors over one text, and the spans to mask: patterns on the whole text, the
dictionary (SudachiPy) on the whole text, GiNZA's NER on the pieces worth it, the workspace lists.

Every name found once is masked wherever it occurs; overlapping spans resolve longest-first.
"""

from __future__ import annotations

from core.settings import Settings
from tasks.guard import ner
from tasks.guard.lists import client_names, directory_names
from tasks.guard.names import NOT_NAMES, companies, field_names, ner_names, sudachi_names
from tasks.guard.patterns import structured
from tasks.guard.spans import Span, fold, occurrences, resolve

NER_UNAVAILABLE_JA = "人名の自動検出（GiNZA）を使えなかったため、人名は書式（様・さん・担当：など）と名簿だけで伏せました。"
NER_PARTIAL_JA = (
    "文書が長いため、AI による人名・会社名の検出は一部（約 {chars:,} 文字）に限りました。"
    "見つかった名前は文書全体で伏せていますが、下書きの固有名詞を確認してください。"
)


def detect(text: str, settings: Settings) -> tuple[list[Span], list[str], int]:
    """(spans, warnings, ner_chars) for one text."""
    warnings: list[str] = []
    spans = list(structured(fold(text)))
    found_companies = companies(text, client_names(settings))
    persons = field_names(text) | set(directory_names(settings))
    ner_chars = 0
    nlp = ner.load() if settings.guard.ner else None
    if nlp is not None:
        lexicon: set[str] = set()
        choice = ner.NerChoice(settings.guard.ner_max_chars)
        for base, doc in ner.tokenize(nlp, text):  # one dictionary pass feeds both detectors
            sudachi_names(base, doc, spans, lexicon)
            choice.offer(doc)
        persons |= lexicon
        chosen, ner_chars, cut = choice.chosen()
        ner_persons, ner_companies = ner_names(ner.run_ner(nlp, chosen))
        persons |= ner_persons
        found_companies |= companies("", ner_companies)
        if cut:
            warnings.append(NER_PARTIAL_JA.format(chars=ner_chars))
    elif settings.guard.ner:
        warnings.append(NER_UNAVAILABLE_JA)
    persons -= NOT_NAMES
    spans += occurrences(text, found_companies, "company")
    spans += occurrences(text, persons, "person")
    return resolve(spans, len(text)), warnings, ner_chars
