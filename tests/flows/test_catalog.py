"""Building the prompt catalogue (flows.catalog): every spec named with where to drop what, its
first example drafted through the document path (offline: nothing is sent), the rules, and the
KPIs read from a store that building the site never creates."""

from __future__ import annotations

import html
import os
import subprocess
import sys
from pathlib import Path

from core.scaffold import scaffold_spec
from core.settings import load_settings
from core.specs import load_specs
from flows.catalog import build_catalog
from kpi.catalog import page_name

BIN = Path(sys.executable).parent / "teichaku"


def _catalog(ws: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), "catalog", "--workspace", str(ws), "--out", str(out)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "250"},
    )  # fmt: skip


def test_catalog_names_every_spec_with_drop_folder_example_rules(tmp_path: Path) -> None:
    ws = tmp_path / "共有"
    scaffold_spec(ws, "legal/contract_check", existing=load_specs(), department_name="法務部")
    out = tmp_path / "site"
    r = _catalog(ws, out)
    assert r.returncode == 0, r.stdout + r.stderr
    specs = load_specs(ws)
    assert len(specs) >= 8
    index = html.unescape((out / "index.html").read_text(encoding="utf-8"))
    for ls in specs:
        s = ls.spec
        assert s.id in index and s.title in index and s.department_name in index
        page = html.unescape((out / page_name(s.id)).read_text(encoding="utf-8"))
        assert f"{s.folder_rel}/受付/" in page  # what to drop where
        for f in s.output:  # what comes back
            assert f.title in page
        assert "入れる文書（before）" in page and "返ってくる下書き（after）" in page
        for item in s.rules.forbidden_inputs:
            assert item in page
        assert s.rules.review_duty in page and s.rules.owner in page
        assert "下書き <b>0</b> 件" in page  # no store yet: zero, not an error
    assert "この職場の仕様" in index
    # Building the catalogue must not create a store as a side effect.
    assert not (ws / ".teichaku").exists()


def test_example_after_is_the_offline_draft_of_the_example_input(tmp_path: Path) -> None:
    out = tmp_path / "site"
    settings = load_settings(tmp_path / "ws")
    build_catalog(settings, load_specs(), out)
    page = html.unescape((out / page_name("sales/meeting_minutes")).read_text(encoding="utf-8"))
    before = page.split("入れる文書（before）")[1].split("返ってくる下書き（after）")[0]
    after = page.split("返ってくる下書き（after）")[1].split("<details>")[0]
    assert "yamada@example.com" in before  # the input as dropped
    assert "<td>改定単価を反映した見積書の提出</td><td>山田</td><td>12月4日(金)</td>" in after
    assert "yamada@example.com" not in after
    assert "AI下書き・要確認" in page  # the full Markdown draft keeps its banner


def test_example_passes_the_guard_like_a_dropped_file(tmp_path: Path) -> None:
    """A labelled example is refused by the block policy, as it would be in an inbox: its page
    has no example and the rest of the catalogue is built."""
    ws = tmp_path / "ws"
    made = scaffold_spec(ws, "legal/contract_check", existing=load_specs())
    memo = made.examples / "例1_メモ.txt"
    memo.write_text("【社外秘】\n" + memo.read_text(encoding="utf-8"), encoding="utf-8")
    settings = load_settings(ws)
    settings.guard.ner = False  # the label decides here; GiNZA would only cost seconds
    out = tmp_path / "site"
    build_catalog(settings, load_specs(ws), out)
    page = html.unescape((out / page_name("legal/contract_check")).read_text(encoding="utf-8"))
    assert "例はまだありません。" in page and "社外秘" not in page.split("<h3>ルール</h3>")[0]
    other = html.unescape((out / page_name("sales/meeting_minutes")).read_text(encoding="utf-8"))
    assert "入れる文書（before）" in other
