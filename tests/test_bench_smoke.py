"""bench/run_bench.py runs end to end on a handful of documents (figures are for the README, not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_script_runs_the_real_cli_and_reports() -> None:
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run_bench.py"),
            "--scenario",
            "saturate",
            "--scenario",
            "discovery",
            "-n",
            "8",
            "--latency",
            "0.02",
            "--cap",
            "4",
            "--modes",
            "direct",
            "--no-ner",
            "--discovery-files",
            "200",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    saturate = next(x for x in rows if x["scenario"] == "saturate")
    assert saturate["exit_code"] == 0, saturate["notes"]
    assert saturate["outcomes"]["draft_files"] == 8 and saturate["outcomes"]["left_in_inbox"] == 0
    assert saturate["requests"] == 8
    for key in ("whole_ratio", "window_ratio", "docs_per_s", "peak_rss_mb", "cpu_ms_per_doc"):
        assert saturate[key] > 0
    # The tree's CPU is reaped exactly (subreaper): at least what the main process alone spends
    # importing, and the first model call comes after the process started.
    assert saturate["cpu_ms_per_doc"] * saturate["n"] > 300
    assert 0 < saturate["first_call_s"] < saturate["whole_s"]
    discovery = next(x for x in rows if x["scenario"] == "discovery")
    assert discovery["files"] == 200 and discovery["known"] == 20
