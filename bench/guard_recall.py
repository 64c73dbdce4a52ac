"""How much of a labelled set the guard holds back, read through `teichaku mask --jsonl`.

    .venv/bin/python bench/guard_recall.py bench/guard/tuning.txt [bench/guard/held_apart.txt ...]
        [--workspace WS] [--client-list FILE] [--misses] [--write-jsonl DIR]

A set is JSON lines {"id", "text", "entities": [{"start", "end", "type"}]} (type person, company
or other), or the marked-up text the sets are written in (bench/guard/*.txt): one document a line,
{P|name} a person, {C|name} a company, {O|name} any other named entity, `#` a comment.

Printed per set: person and company recall (a mention is held back in full when ONE masked span
covers it entirely, whatever its category), the same counting only spans of the right category,
and over-masking (the share of documents without any named entity that got a person or company
placeholder). The CLI is run once per set, so GiNZA is loaded once, as the contract promises.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

MARK = re.compile(r"\{([PCO])\|([^{}]+)\}")
TYPES = {"P": "person", "C": "company", "O": "other"}


@dataclass
class Doc:
    id: str
    text: str
    entities: list[dict] = field(default_factory=list)  # start, end, type


def parse_marked(line: str, doc_id: str) -> Doc:
    """`{P|山田}は…` -> text without marks, entities as code-point offsets into it."""
    parts: list[str] = []
    entities: list[dict] = []
    pos = 0
    last = 0
    for m in MARK.finditer(line):
        parts.append(line[last : m.start()])
        pos += m.start() - last
        value = m.group(2)
        entities.append({"start": pos, "end": pos + len(value), "type": TYPES[m.group(1)]})
        parts.append(value)
        pos += len(value)
        last = m.end()
    parts.append(line[last:])
    return Doc(doc_id, "".join(parts), entities)


def load_set(path: Path) -> list[Doc]:
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        return [Doc(str(r["id"]), r["text"], r.get("entities", [])) for r in rows]
    docs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip() and not line.startswith("#"):
            docs.append(parse_marked(line.strip(), f"{path.stem}:{n}"))
    return docs


def run_mask(docs: list[Doc], workspace: Path) -> tuple[dict[str, dict], float]:
    """The CLI's answer per id, and the seconds the whole set took (GiNZA load included)."""
    stdin = "".join(
        json.dumps({"id": d.id, "text": d.text}, ensure_ascii=False) + "\n" for d in docs
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEICHAKU_")}
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "teichaku", "mask", "--workspace", str(workspace), "--jsonl"],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    seconds = time.monotonic() - started
    answers = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(answers) == len(docs), (len(answers), len(docs), out.stderr[-2000:])
    return {a["id"]: a for a in answers}, seconds


def score(docs: list[Doc], answers: dict[str, dict]) -> tuple[dict[str, float], list[str]]:
    """Figures for one set, and a line per miss / over-masked document."""
    held = {"person": [0, 0, 0], "company": [0, 0, 0]}  # gold, held (any category), held (right)
    free = over = 0
    misses: list[str] = []
    for d in docs:
        spans = answers[d.id]["spans"]
        for e in d.entities:
            if e["type"] not in held:
                continue
            row = held[e["type"]]
            row[0] += 1
            covering = [s for s in spans if s["start"] <= e["start"] and e["end"] <= s["end"]]
            row[1] += bool(covering)
            row[2] += any(s["category"] == e["type"] for s in covering)
            if not covering:
                misses.append(
                    f"miss {e['type']:7} {d.text[e['start'] : e['end']]}\t| {answers[d.id]['masked']}"
                )
        if not d.entities:
            free += 1
            if any(s["category"] in ("person", "company") for s in spans):
                over += 1
                misses.append(f"over            \t| {answers[d.id]['masked']}")
    figures: dict[str, float] = {"documents": len(docs), "entity_free": free}
    for kind, (gold, any_cat, right) in held.items():
        figures[f"{kind}_mentions"] = gold
        figures[f"{kind}_recall"] = any_cat / gold if gold else 1.0
        figures[f"{kind}_recall_same_category"] = right / gold if gold else 1.0
    figures["over_masking"] = over / free if free else 0.0
    return figures, misses


def _workspace(args: argparse.Namespace, tmp: Path) -> Path:
    if args.workspace:
        return args.workspace.resolve()
    ws = tmp / "ws"
    subprocess.run(
        [sys.executable, "-m", "teichaku", "init", str(ws)], capture_output=True, check=True
    )
    if args.client_list:
        (ws / "guard").mkdir(exist_ok=True)
        (ws / "guard" / "取引先.txt").write_bytes(args.client_list.read_bytes())
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", type=Path)
    parser.add_argument(
        "--workspace", type=Path, help="an existing workspace (default: a fresh one)"
    )
    parser.add_argument(
        "--client-list", type=Path, help="copied to the fresh workspace's guard/取引先.txt"
    )
    parser.add_argument(
        "--misses", action="store_true", help="print every miss and over-masked document"
    )
    parser.add_argument("--write-jsonl", type=Path, help="also write each set as JSON lines here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = _workspace(args, Path(tmp))
        for path in args.sets:
            docs = load_set(path)
            if args.write_jsonl:
                target = args.write_jsonl / f"{path.stem}.jsonl"
                target.write_text(
                    "".join(json.dumps(d.__dict__, ensure_ascii=False) + "\n" for d in docs),
                    encoding="utf-8",
                )
            answers, seconds = run_mask(docs, ws)
            figures, misses = score(docs, answers)
            figures["seconds"] = round(seconds, 1)
            if args.misses:
                print("\n".join(misses))
            print(json.dumps({"set": path.name, **figures}, ensure_ascii=False))


if __name__ == "__main__":
    main()
