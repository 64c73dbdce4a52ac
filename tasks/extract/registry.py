"""Which reader reads which suffix: an explicit tuple, so adding a format is one line here."""

from __future__ import annotations

from tasks.extract import docx, image, mail, pdf, pptx, text, xlsx
from tasks.extract.base import Reader

READERS: tuple[Reader, ...] = (
    docx.READER,
    pdf.READER,
    text.TXT_READER,
    text.MD_READER,
    image.READER,
    xlsx.READER,
    mail.EML_READER,
    mail.MSG_READER,
    pptx.READER,
)

_BY_SUFFIX: dict[str, Reader] = {}
for _reader in READERS:
    for _suffix in _reader.suffixes:
        # Two readers claiming one suffix would make the choice depend on tuple order.
        if _suffix in _BY_SUFFIX:
            raise RuntimeError(f"{_suffix} is claimed by two readers")
        _BY_SUFFIX[_suffix] = _reader

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_BY_SUFFIX)
# Parsed in a child process of their own (memory-bounded), so reading them costs the caller
# no CPU: the pipeline reads these on its thread and hands only the text to the CPU workers.
READ_IN_CHILD: frozenset[str] = frozenset(s for s, r in _BY_SUFFIX.items() if r.in_child)


def reader_for(suffix: str) -> Reader | None:
    """The reader for a lower-case suffix with its dot (".pdf"), or None when none reads it."""
    return _BY_SUFFIX.get(suffix)
