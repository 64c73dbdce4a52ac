"""How well the embedded offline engine keeps a document's figures, and how long its sections run.

For every input (the built-in spec examples, the held-apart set in
tests/support/offline_heldout.py, written apart from any tuning of the engine, and, with
`--set tuning`, the tuning set in tests/support/offline_tuning.py whose misses were read and fixed)
it drafts the output offline and reports, per spec and overall:
- facts kept: the share of the source's dates, amounts and quantities (「2026年11月20日」
  「550,000円」「180名」「94.2%」「10:20」...) that appear somewhere in the draft's sections;
- length: the sections' characters (banner, provenance and rules aside) against the source's,
  as a median over the documents.

    .venv/bin/python bench/offline_quality.py            # samples and held-apart set
    .venv/bin/python bench/offline_quality.py --set heldout --show 3
    .venv/bin/python bench/offline_quality.py --set tuning --show 8
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.specs import load_specs
from tasks.generate.offline import OfflineEngine
from tests.support.fact_measure import Result, measure, sample_inputs
from tests.support.offline_heldout import HELDOUT
from tests.support.offline_tuning import TUNING


def report(title: str, results: list[Result]) -> None:
    print(f"\n== {title} ({len(results)} documents)")
    print(f"{'spec':30} {'docs':>4} {'facts kept':>12} {'median length':>14}")
    by_spec: dict[str, list[Result]] = {}
    for r in results:
        by_spec.setdefault(r.spec_id, []).append(r)
    for sid, rs in sorted(by_spec.items()):
        want = sum(r.source_facts for r in rs)
        kept = sum(r.kept for r in rs)
        med = statistics.median(r.ratio for r in rs)
        print(f"{sid:30} {len(rs):4} {kept:5}/{want:<4} {kept / max(want, 1):5.0%} {med:13.0%}")
    want = sum(r.source_facts for r in results)
    kept = sum(r.kept for r in results)
    med = statistics.median(r.ratio for r in results)
    worst = min(
        (
            sum(r.kept for r in rs) / max(sum(r.source_facts for r in rs), 1)
            for rs in by_spec.values()
        ),
        default=0,
    )
    print(
        f"{'overall':30} {len(results):4} {kept:5}/{want:<4} {kept / max(want, 1):5.0%} {med:13.0%}"
    )
    print(
        f"worst spec: {worst:.0%} kept (target >= 80%); overall target >= 90%; length target <= 80%"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", choices=["samples", "heldout", "both", "tuning"], default="both")
    ap.add_argument("--show", type=int, default=0, help="print the N worst documents' misses")
    args = ap.parse_args()
    engine = OfflineEngine()
    specs = {s.spec.id: s for s in load_specs(None)}
    sets: dict[str, list[Result]] = {}
    if args.set in ("samples", "both"):
        sets["samples (prompt_specs/*.examples)"] = [
            measure(s, name, text, engine)
            for s in specs.values()
            for name, text in sample_inputs(s)
        ]
    if args.set in ("heldout", "both"):
        sets["held-apart set (tests/support/offline_heldout.py)"] = [
            measure(specs[sid], name, text, engine) for sid, name, text in HELDOUT
        ]
    if args.set == "tuning":
        sets["tuning set (tests/support/offline_tuning.py)"] = [
            measure(specs[sid], name, text, engine) for sid, name, text in TUNING
        ]
    for title, results in sets.items():
        report(title, results)
        for r in sorted(results, key=lambda r: r.kept / max(r.source_facts, 1))[: args.show]:
            print(
                f"  {r.spec_id} {r.name}: {r.kept}/{r.source_facts} kept, {r.ratio:.0%} long; missing {r.missing}"
            )
    if len(sets) > 1:
        report("all", [r for rs in sets.values() for r in rs])


if __name__ == "__main__":
    main()
