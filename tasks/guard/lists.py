"""The workspace's own lists, the strongest signal the guard has: the client list
(guard/取引先.txt, one name a line) and the optional employee directory (a CSV with a 氏名 /
name column). Read once per change of the file (mtime), in UTF-8 or cp932; the client list's
company lexicon is derived once per change too, not for every document.
"""

from __future__ import annotations

import csv
import logging
import threading
from pathlib import Path
from typing import Any

from core.settings import Settings
from tasks.guard.names import companies

log = logging.getLogger(__name__)

# (path, parse) -> (mtime, parsed): one file may be parsed two ways (names, lexicon).
_LIST_CACHE: dict[tuple[Path, Any], tuple[int, Any]] = {}
_LIST_LOCK = threading.Lock()


def _read_cached(path: Path, parse: Any) -> Any:
    """parse(the file's text), kept while its mtime stays; parse("") when it cannot be read."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return parse("")
    with _LIST_LOCK:
        hit = _LIST_CACHE.get((path, parse))
        if hit and hit[0] == mtime:
            return hit[1]
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "cp932"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        log.warning("cannot decode %s; ignored", path)
        return parse("")
    values = parse(text)
    with _LIST_LOCK:
        _LIST_CACHE[(path, parse)] = (mtime, values)
    return values


def _parse_client_list(text: str) -> list[str]:
    return [s for line in text.splitlines() if (s := line.split("#", 1)[0].strip())]


_NAME_COLUMNS = {
    "氏名",
    "名前",
    "社員名",
    "フルネーム",
    "name",
    "full_name",
    "姓",
    "名",
    "last_name",
    "first_name",
    "surname",
}


def _parse_directory(text: str) -> list[str]:
    rows = list(csv.DictReader(text.splitlines()))
    names: set[str] = set()
    for row in rows:
        for key, value in row.items():
            if key and key.strip().lower() in _NAME_COLUMNS and value and value.strip():
                v = value.strip()
                names.add(v)
                parts = v.split()
                if len(parts) == 2:  # 「山田 太郎」 is also written 「山田太郎」 and 「山田」
                    names.add("".join(parts))
                    names.add(parts[0])
    return sorted(n for n in names if len(n) >= 2)


def _client_lexicon(text: str) -> frozenset[str]:
    return frozenset(companies("", _parse_client_list(text)))


def client_names(settings: Settings) -> list[str]:
    path = settings.workspace / settings.guard.client_list
    return _read_cached(path, _parse_client_list)


def client_lexicon(settings: Settings) -> frozenset[str]:
    """The client list as the company detector reads it (each name cleaned, and also without
    its legal form): what `companies(text, client_names(settings))` adds for the list."""
    path = settings.workspace / settings.guard.client_list
    return _read_cached(path, _client_lexicon)


def directory_names(settings: Settings) -> list[str]:
    if settings.guard.employee_csv is None:
        return []
    return _read_cached(settings.workspace / settings.guard.employee_csv, _parse_directory)
