"""The `teichaku` command as a person runs it: a real process, real folders, JSON read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.samples import write_samples

BIN = Path(sys.executable).parent / "teichaku"


def _run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, timeout=timeout, env=full_env
    )


def test_init_list_run_kpi(tmp_path: Path) -> None:
    ws = tmp_path / "部署共有"
    r = _run("init", str(ws))
    assert r.returncode == 0, r.stderr
    assert (ws / "teichaku.toml").is_file()

    r = _run("specs", "list", "--workspace", str(ws), "--json")
    assert r.returncode == 0, r.stderr
    specs = json.loads(r.stdout)
    ids = {s["id"] for s in specs}
    assert {
        "sales/meeting_minutes",
        "manufacturing/daily_report",
        "admin/ringi",
        "hr/job_posting",
    } <= ids
    for s in specs:
        for key in (
            "id",
            "department",
            "title",
            "version",
            "inbox",
            "outbox",
            "archive",
            "quarantine",
        ):
            assert key in s
        assert Path(s["inbox"]).is_dir()

    sales = next(s for s in specs if s["id"] == "sales/meeting_minutes")
    write_samples("sales/meeting_minutes", Path(sales["inbox"]))
    (Path(sales["inbox"]) / "空のメモ.txt").write_bytes(b"")

    r = _run("run", "--workspace", str(ws))
    assert r.returncode == 0, r.stderr
    assert "下書き作成" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr
    assert list(Path(sales["outbox"]).glob("*.draft.docx"))
    assert (Path(sales["quarantine"]) / "空のメモ.txt.error.txt").is_file()

    r = _run("kpi", "--workspace", str(ws), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    row = next(x for x in report["rows"] if x["spec_id"] == "sales/meeting_minutes")
    assert row["drafts"] == 1
    assert row["hours_saved_est"] > 0
    assert {d["department"] for d in report["departments"]} >= {
        "sales",
        "hr",
        "admin",
        "manufacturing",
    }
    total = next(x for x in report["totals"] if x["spec_id"] == "sales/meeting_minutes")
    assert (total["documents"], total["drafted"], total["quarantined"]) == (2, 1, 1)
    assert total["minutes_saved_est"] > 0


def test_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert _run("init", str(ws)).returncode == 0
    r = _run("run", "--workspace", str(ws), env={"TEICHAKU_LLM__CONCURRENCY": "zero"})
    assert r.returncode == 2
    assert "concurrency" in r.stderr
    assert "Traceback" not in r.stderr


def test_not_a_workspace(tmp_path: Path) -> None:
    r = _run("run", "--workspace", str(tmp_path / "nothing"))
    assert r.returncode == 2
    assert "teichaku init" in r.stderr


def test_broken_workspace_spec_names_file_and_field(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert _run("init", str(ws)).returncode == 0
    bad = ws / "prompt_specs" / "sales" / "meeting_minutes.yaml"
    bad.parent.mkdir(parents=True)
    from core.specs import BUILTIN_SPEC_DIR

    bad.write_text(
        (BUILTIN_SPEC_DIR / "sales" / "meeting_minutes.yaml").read_text(encoding="utf-8")
        + "\nunknown_key: 1\n",
        encoding="utf-8",
    )
    r = _run("specs", "list", "--workspace", str(ws))
    assert r.returncode == 2
    assert "meeting_minutes.yaml" in r.stderr and "unknown_key" in r.stderr


@pytest.mark.parametrize("command", [["kpi"], ["specs", "list"]])
def test_commands_without_a_flow_answer_fast(tmp_path: Path, command: list[str]) -> None:
    import time

    ws = tmp_path / "ws"
    assert _run("init", str(ws)).returncode == 0
    start = time.monotonic()
    r = _run(*command, "--workspace", str(ws))
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - start < 3.0  # 1.5 s on an idle machine; slack for a loaded CI box
