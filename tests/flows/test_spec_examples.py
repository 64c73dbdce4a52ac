"""The DX office's loop as a person runs it: `specs new` -> `list` -> `validate` -> `test`,
with real processes, real files, and the real openai client against the local test endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from core.errors import ConfigError
from core.specs import BUILTIN_SPEC_DIR, load_specs
from flows.spec_examples import (
    ExampleCase,
    check_case,
    load_expectations,
    parse_spec_id,
    validate_specs,
)
from tests.support.fake_endpoint import FakeEndpoint

BIN = Path(sys.executable).parent / "teichaku"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # Wide terminal so rich does not fold paths and messages the assertions look for.
    full_env = {**os.environ, "COLUMNS": "250", **(env or {})}
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, timeout=240, env=full_env
    )


def _new(ws: Path, spec_id: str = "legal/contract_check", *extra: str) -> Path:
    r = _run("specs", "new", spec_id, "--workspace", str(ws), *extra)
    assert r.returncode == 0, r.stdout + r.stderr
    dept, doc = spec_id.split("/")
    return ws / "prompt_specs" / dept / f"{doc}.yaml"


def test_new_spec_is_listed_validated_and_tested(tmp_path: Path) -> None:
    ws = tmp_path / "共有"
    path = _new(
        ws,
        "legal/contract_check",
        "--department-name",
        "法務部",
        "--document-name",
        "契約書チェック依頼",
    )
    assert path.is_file()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ") and "書き換えてください" in text  # commented in Japanese
    examples = path.with_suffix(".examples")
    assert (examples / "expectations.yaml").is_file() and list(examples.glob("*.txt"))

    r = _run("specs", "list", "--workspace", str(ws), "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["id"]: row for row in json.loads(r.stdout)}
    assert rows["legal/contract_check"]["origin"] == "workspace"
    assert rows["legal/contract_check"]["department"] == "legal"
    assert rows["legal/contract_check"]["inbox"].endswith("法務部/契約書チェック依頼/受付")
    assert rows["sales/meeting_minutes"]["origin"] == "builtin"
    r = _run("specs", "list", "--workspace", str(ws))
    assert "ワークスペース" in r.stdout and "組み込み" in r.stdout

    r = _run("specs", "validate", "--workspace", str(ws))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "問題なし" in r.stdout

    r = _run("specs", "test", "legal/contract_check", "--engine", "offline", "--workspace", str(ws))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "合格" in r.stdout and "不合格" not in r.stdout

    # An unknown field: validate fails and names the file and the field.
    path.write_text(text + "temprature: 0.3\n", encoding="utf-8")
    r = _run("specs", "validate", "--workspace", str(ws))
    assert r.returncode == 1
    assert str(path) in r.stdout and "temprature" in r.stdout and "unknown field" in r.stdout
    assert "→" in r.stdout  # says what to do
    assert "Traceback" not in r.stdout + r.stderr


def test_all_builtin_examples_pass_offline(tmp_path: Path) -> None:
    r = _run("specs", "test", "--engine", "offline", "--workspace", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    for ls in load_specs():
        assert ls.spec.id in r.stdout
    assert "例なし" not in r.stdout


def test_all_examples_pass_against_the_test_endpoint(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    _new(ws)
    with FakeEndpoint() as ep:
        r = _run(
            "specs", "test", "--engine", "openai", "--workspace", str(ws),
            env={"OPENAI_BASE_URL": ep.base_url, "OPENAI_API_KEY": "sk-test"},
        )  # fmt: skip
        sent = "\n".join(m["content"] for body in ep.requests for m in body["messages"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "openai" in r.stdout and "legal/contract_check" in r.stdout
    assert len(ep.requests) >= len(load_specs()) + 1
    # Examples pass the same guard as real documents: contact details never reach the endpoint.
    assert "yamada@example.com" not in sent and "03-0000-5678" not in sent


def test_failing_expectation_exits_non_zero_with_reason(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    path = _new(ws)
    exp = path.with_suffix(".examples") / "expectations.yaml"
    raw = yaml.safe_load(exp.read_text(encoding="utf-8"))
    raw["cases"][0]["must_contain"] = ["存在しない語句"]
    raw["cases"][0]["max_chars"] = 20
    exp.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    r = _run("specs", "test", "legal/contract_check", "--engine", "offline", "--workspace", str(ws))
    assert r.returncode == 1
    assert "不合格" in r.stdout
    assert "「存在しない語句」が下書きにありません" in r.stdout
    assert "長すぎます" in r.stdout


def test_unknown_spec_id_for_test(tmp_path: Path) -> None:
    r = _run("specs", "test", "nothing/here", "--engine", "offline", "--workspace", str(tmp_path))
    assert r.returncode == 2 and "specs list" in r.stderr


def test_new_on_builtin_id_copies_it_for_override(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    path = _new(ws, "sales/meeting_minutes")
    assert "組み込みの仕様 sales/meeting_minutes のコピー" in path.read_text(encoding="utf-8")
    assert (path.with_suffix(".examples") / "expectations.yaml").is_file()
    loaded = {ls.spec.id: ls for ls in load_specs(ws)}
    assert loaded["sales/meeting_minutes"].origin == "workspace"
    assert loaded["sales/meeting_minutes"].path == path
    r = _run("specs", "new", "sales/meeting_minutes", "--workspace", str(ws))
    assert r.returncode == 2 and "既にあります" in r.stderr


@pytest.mark.parametrize("bad", ["sales", "Sales/minutes", "sales/議事録", "a/b/c"])
def test_spec_id_must_be_dept_slash_doc(bad: str) -> None:
    with pytest.raises(ConfigError, match="部署ID/文書ID"):
        parse_spec_id(bad)


# -- validate: one broken thing at a time, each named where it is --------------------------------


def _scaffold(ws: Path) -> Path:
    from flows.spec_examples import scaffold_spec

    return scaffold_spec(ws, "legal/contract_check", existing=load_specs()).spec_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _errors(ws: Path) -> list:
    return validate_specs(ws).errors


def test_scaffold_and_builtins_validate_clean(tmp_path: Path) -> None:
    _scaffold(tmp_path)
    report = validate_specs(tmp_path)
    assert report.problems == []
    assert len(report.checked) == len(load_specs()) + 1


def test_render_template_typo_names_template_and_file_line(tmp_path: Path) -> None:
    path = _scaffold(tmp_path)
    _edit(path, "{{ out.summary or", "{{ out.sumary or")
    [p] = _errors(tmp_path)
    assert p.path == path
    assert p.where.startswith("render_template line 3 (file line ")
    file_line = int(p.where.split("file line ")[1].rstrip(")"))
    assert "out.sumary" in path.read_text(encoding="utf-8").splitlines()[file_line - 1]
    assert "sumary" in p.message and "out.<項目名>" in p.hint


def test_template_syntax_error_names_line(tmp_path: Path) -> None:
    path = _scaffold(tmp_path)
    _edit(path, "  {% endfor %}\n\n  ## ToDo", "  {% endfo %}\n\n  ## ToDo")
    errors = _errors(tmp_path)
    assert errors and errors[0].where.startswith("render_template line ")


def test_user_template_unknown_variable(tmp_path: Path) -> None:
    path = _scaffold(tmp_path)
    _edit(path, "ファイル名：{{ file_name }}", "ファイル名：{{ filename }}")
    [p] = _errors(tmp_path)
    assert p.where.startswith("user_template line 2") and "filename" in p.message
    assert "document_text, file_name, spec, today" in p.hint


def test_output_field_not_shown_in_draft(tmp_path: Path) -> None:
    path = _scaffold(tmp_path)
    raw = path.read_text(encoding="utf-8")
    start = raw.index("  ## ポイント")
    end = raw.index("  ## ToDo")
    path.write_text(raw[:start] + raw[end:], encoding="utf-8")
    [p] = _errors(tmp_path)
    assert "points" in p.message and p.where.endswith("output.1.name")


def test_expectations_are_checked_against_their_schema_and_spec(tmp_path: Path) -> None:
    path = _scaffold(tmp_path)
    exp = path.with_suffix(".examples") / "expectations.yaml"
    _edit(exp, "required_sections: [summary, points, todo]", "required_sections: [summary, pointz]")
    [p] = _errors(tmp_path)
    assert p.path == exp and "pointz" in p.message and "cases.0.required_sections" in p.where
    _edit(exp, "    min_chars: 50", "    min_char: 50")
    [p] = _errors(tmp_path)
    assert p.path == exp and "min_char" in p.message and "unknown field" in p.message
    with pytest.raises(ConfigError, match=r"cases\.0\.min_char"):
        load_expectations(exp)


def test_two_specs_in_one_folder(tmp_path: Path) -> None:
    path = _scaffold(tmp_path)
    _edit(path, 'department_name: "legal"', 'department_name: "営業部"')
    _edit(path, 'document_name: "contract_check"', 'document_name: "商談議事録"')
    [p] = _errors(tmp_path)
    assert p.where == "folder" and "meeting_minutes.yaml" in p.message


def test_check_case_reports_each_expectation() -> None:
    spec = next(ls.spec for ls in load_specs() if ls.spec.id == "sales/meeting_minutes")
    case = ExampleCase(
        input="x.txt", required_sections=["summary", "decisions"], must_contain=["A"],
        must_not_contain=["B"], min_chars=10,
    )  # fmt: skip
    out = spec.output_model().model_dump() | {"summary": "B"}
    failures = check_case(spec, case, out, "B")
    assert any("決定事項" in f for f in failures)
    assert "「A」が下書きにありません" in failures and "「B」が下書きに含まれています" in failures
    assert any("短すぎます" in f for f in failures)


def test_every_builtin_spec_has_examples() -> None:
    for ls in load_specs():
        exp = load_expectations(BUILTIN_SPEC_DIR / f"{ls.spec.id}.examples" / "expectations.yaml")
        assert exp.cases and all(c.required_sections and c.must_contain for c in exp.cases)


@pytest.mark.parametrize(
    "args",
    [
        ["specs", "validate"],
        ["specs", "test", "--engine", "offline"],
        ["catalog", "--out", "{tmp}/site"],
    ],
    ids=["validate", "test", "catalog"],
)
def test_commands_answer_fast_without_prefect(tmp_path: Path, args: list[str]) -> None:
    argv = ["teichaku", *(a.format(tmp=tmp_path) for a in args), "--workspace", str(tmp_path)]
    code = (
        "import sys\n"
        "from teichaku.cli import main\n"
        f"sys.argv = {argv!r}\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'prefect' not in sys.modules, 'prefect imported'\n"
    )
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    assert elapsed < 1.5, f"{' '.join(args)} took {elapsed:.2f} s"


def test_endpoint_outage_is_a_failed_row_not_a_traceback(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    _new(ws)
    (ws / "teichaku.toml").write_text(
        "[llm]\nmax_attempts = 1\ntimeout_seconds = 2\n", encoding="utf-8"
    )
    with FakeEndpoint(fail_rates={"500": 1.0}) as ep:
        r = _run(
            "specs", "test", "legal/contract_check", "--engine", "openai", "--workspace", str(ws),
            env={"OPENAI_BASE_URL": ep.base_url, "OPENAI_API_KEY": "sk-test", "TEICHAKU_GUARD__NER": "false"},
        )  # fmt: skip
    assert r.returncode == 1
    assert "AI の接続先が応答しません" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr
