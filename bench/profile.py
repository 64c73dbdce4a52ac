"""Where `teichaku run` spends its CPU, by step: a bench scenario under py-spy, stacks classified.

    .venv/bin/python bench/profile.py                       # saturate, 480 realistic documents
    .venv/bin/python bench/profile.py -n 200 --scenario overcap --keep /tmp/prof.txt
    .venv/bin/python bench/profile.py --from /tmp/prof.txt  # classify a kept profile again

py-spy (`pip install py-spy`) samples every process of the tree (`--subprocesses`: the main
process, the forkserver, the workers, the PDF readers) from outside, so the product runs as
shipped: no profiler hook in its code or settings. Only samples of threads on a CPU count
(py-spy leaves idle threads out), so samples x interval approximate CPU time. Each stack goes
to the first step whose rule matches a frame (STEPS, in order); start-up (imports and model
loading) comes first, so an import inside a step counts as start-up.

py-spy's own sampling costs CPU (it reads the processes' memory), and `--nonblocking` keeps it
from pausing them; the ratios of a profiled run are therefore not the benchmark's figures.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script, like run_bench.py

from bench import run_bench  # noqa: E402

RATE = 100  # samples per second per thread

# (step, frame patterns): the first step with a pattern found in any frame of a stack gets it.
STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "process start-up (imports, GiNZA load, forkserver preload)",
        (
            "_find_and_load (",
            "load (tasks/guard/ner.py",
            "warm_up (tasks/guard/ner.py",
            "_init_worker (",
            "load_settings (",
            "load_specs (",
        ),
    ),
    ("read: PDF (pypdf in its child)", ("_pdf_worker (", "_read_pdf (", "pypdf/")),
    ("read: docx, text", ("tasks/extract/",)),
    ("guard: Sudachi (tokenizer)", ("tokenize (tasks/guard/ner.py",)),
    ("guard: GiNZA NER (tok2vec + ner)", ("run_ner (tasks/guard/ner.py",)),
    (
        "guard: patterns, names, lists, masking",
        ("tasks/guard/",),
    ),
    ("render (docx + md)", ("tasks/render/", "render_draft (")),
    ("write draft (publish: atomic write, fsync)", ("write_draft (",)),
    ("moves (archive, quarantine)", ("archive_original (", "quarantine_file (")),
    ("store (SQLAlchemy, SQLite)", ("core/store.py", "sqlalchemy/", "sqlite3/")),
    ("model client (openai, httpx, prompt)", ("openai/", "httpx/", "httpcore/", "tasks/generate/")),
    (
        "hand-off between processes (pickle, pipes, pool)",
        ("concurrent/futures/", "multiprocessing/", "flows/pool.py"),
    ),
    ("discover, hash, claim logic", ("tasks/discover.py", "flows/document.py", "flows/batch.py")),
    ("CLI, logging, progress", ("teichaku/", "rich/", "logging/")),
)
OTHER = "other"
# py-spy sometimes reads a thread with no Python frame at all (measured: ~40% of the main
# process's samples with 64 document threads and --nonblocking); those say nothing about a step.
UNREAD = "no Python frame read (py-spy; not a step)"
# With --nonblocking py-spy also samples threads that are blocked (its idle test reads the
# thread's state without stopping it): 64 document threads waiting on a worker, a socket or a
# lock. A stack whose innermost frame is one of these waits is time waited, not CPU spent.
WAITING = "waiting (blocked threads py-spy sampled; not CPU)"
_WAITS = (
    "Condition.wait (",
    "Event.wait (",
    "select (selectors.py",
    "_PollLikeSelector.select (",  # the executor's manager thread waiting for a result
    "EpollSelector.select (",  # the server waiting for a fork request
    "Queue.get (multiprocessing/queues.py",  # a worker waiting for its next job
    "SemLock.__enter__ (",
    "SyncStream.read (",
    "main (multiprocessing/forkserver.py",
    "read_signed (multiprocessing/forkserver.py",
    "_worker (concurrent/futures/thread.py",
    "Connection._recv (",
    "_fsync_dir (",
    "_fsync (",
)
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")


def classify(stack: str) -> str:
    if all(f.startswith("process ") for f in stack.split(";")):
        return UNREAD
    if stack.rsplit(";", 1)[-1].startswith(_WAITS):
        return WAITING
    for step, patterns in STEPS:
        if any(p in stack for p in patterns):
            return step
    return OTHER


def process_of(stack: str) -> str:
    """The sampled process's role, from the root frame py-spy gives it (`process PID:"cmd"`)."""
    if "_pdf_worker (" in stack or "_child (tasks/extract/bounded.py" in stack:
        return "PDF reader children"
    if "_process_worker (" in stack:
        return "CPU workers"
    if "forkserver.py" in stack:
        return "forkserver"
    return "main process"


def split(profile: Path) -> tuple[Counter[str], Counter[str], int]:
    """(samples per step, samples per process role, total samples) of a py-spy raw profile."""
    steps: Counter[str] = Counter()
    roles: Counter[str] = Counter()
    total = 0
    for line in profile.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        count = int(m["count"])
        step = classify(m["stack"])
        steps[step] += count
        if step not in (UNREAD, WAITING):
            roles[process_of(m["stack"])] += count
        total += count
    return steps, roles, total


def report(profile: Path, n: int) -> str:
    steps, roles, total = split(profile)
    ms = 1000 / RATE
    unread = steps.pop(UNREAD, 0)
    waiting = steps.pop(WAITING, 0)
    read = total - unread - waiting
    rows = [
        f"# {total} samples at {RATE} Hz, {unread} without a Python frame and {waiting} of "
        f"blocked threads left out; per document (n={n}) and share of the {read} on a CPU:"
    ]
    for step, count in steps.most_common():
        rows.append(f"{count * ms / n:7.1f} ms  {100 * count / read:5.1f}%  {step}")
    rows.append("# by process")
    for role, count in roles.most_common():
        rows.append(f"{count * ms / n:7.1f} ms  {100 * count / read:5.1f}%  {role}")
    return "\n".join(rows)


def top_frames(profile: Path, step: str, limit: int = 15) -> str:
    """The leaf frames that cost most inside one step (what to look at next)."""
    leaves: Counter[str] = Counter()
    for line in profile.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _LINE.match(line)
        if m and classify(m["stack"]) == step:
            leaves[m["stack"].rsplit(";", 1)[-1]] += int(m["count"])
    return "\n".join(f"{c:6d}  {f}" for f, c in leaves.most_common(limit))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenario", default="saturate", choices=("saturate", "overcap"))
    p.add_argument("-n", type=int, default=480)
    p.add_argument("--latency", type=float, default=0.25)
    p.add_argument("--cap", type=int, default=8)
    p.add_argument("--corpus", choices=("realistic", "short"), default="realistic")
    p.add_argument("--no-ner", action="store_true")
    p.add_argument("--keep", type=Path, help="write the raw py-spy profile here")
    p.add_argument("--from", dest="source", type=Path, help="classify a kept profile, run nothing")
    p.add_argument("--leaves", help="also list the costliest leaf frames of this step")
    a = p.parse_args(argv)
    if a.source is None:
        out = a.keep or Path(tempfile.mkdtemp(prefix="teichaku-profile-")) / "profile.txt"
        spy = Path(sys.executable).parent / "py-spy"
        wrap = [str(spy), "record", "--subprocesses", "--nonblocking", "--format", "raw"]
        wrap += ["--rate", str(RATE), "--output", str(out), "--"]
        run_bench.become_subreaper()
        r = run_bench.run_scenario(
            a.scenario, "direct", a.n, a.latency, a.cap, not a.no_ner, a.corpus, wrap=wrap
        )
        print(run_bench.fmt(r), file=sys.stderr)
        a.source = out
    print(report(a.source, a.n))
    if a.leaves:
        print(top_frames(a.source, a.leaves))
    return 0


if __name__ == "__main__":
    sys.exit(main())
