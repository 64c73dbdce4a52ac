from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import load_settings
from core.specs import load_specs
from core.workspace import init_workspace


def test_defaults_offline_and_sqlite_in_workspace(tmp_path: Path) -> None:
    s = load_settings(tmp_path)
    assert s.engine == "offline"
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / '.teichaku' / 'teichaku.db'}"


def test_engine_defaults_to_openai_when_key_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert load_settings(tmp_path).engine == "openai"


def test_toml_values_and_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "teichaku.toml").write_text(
        '[llm]\nmodel = "from-file"\nconcurrency = 3\n[folders]\ninbox = "入れる"\n',
        encoding="utf-8",
    )
    s = load_settings(tmp_path)
    assert (s.llm.model, s.llm.concurrency, s.folders.inbox) == ("from-file", 3, "入れる")
    monkeypatch.setenv("TEICHAKU_LLM__CONCURRENCY", "9")
    monkeypatch.setenv("TEICHAKU_LLM__ENGINE", "offline")
    monkeypatch.setenv("TEICHAKU_DATABASE_URL", "postgresql+psycopg://x@y/z")
    s = load_settings(tmp_path)
    assert s.llm.concurrency == 9
    assert s.llm.model == "from-file"  # env for one key keeps the file's other keys
    assert s.database_url == "postgresql+psycopg://x@y/z"


def test_init_writes_commented_config_and_folders(tmp_path: Path) -> None:
    ws = tmp_path / "共有"
    s = load_settings(ws)
    made = init_workspace(ws, load_specs(ws), s)
    text = (ws / "teichaku.toml").read_text(encoding="utf-8")
    assert "[llm]" in text and "#" in text
    assert load_settings(ws).llm.model == "gpt-4o-mini"  # the written file parses
    assert all(p.is_dir() for p in made)
    assert any(p.name == "受付" for p in made)


# --- settings never fail silently: the real CLI on real files ---------------------------------

BIN = Path(sys.executable).parent / "teichaku"


def _teichaku(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def _init(tmp_path: Path) -> Path:
    ws = tmp_path / "総務 共有"
    r = _teichaku("init", str(ws))
    assert r.returncode == 0, r.stderr
    return ws


def _line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(text))


def _refused(r: subprocess.CompletedProcess[str], message: str) -> None:
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr, r.stderr
    for leak in ("Traceback", "pydantic", "_WorkspaceSettings", "ValidationError"):
        assert leak not in r.stderr, r.stderr


def test_misspelt_section_stops_every_run_with_its_line(tmp_path: Path) -> None:
    ws = _init(tmp_path)
    toml = ws / "teichaku.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8") + "\n[gaurd]\nsend_external = false\n", encoding="utf-8"
    )
    line = _line_of(toml, "[gaurd]")
    r = _teichaku("run", "--workspace", str(ws))
    _refused(r, f"[gaurd] は不明なセクションです。[guard] ですか？ (teichaku.toml {line} 行目)")
    assert str(toml) in r.stderr  # the whole path too, for a workspace on a share
    assert not any((ws / "営業").rglob("*.docx"))  # nothing ran


def test_misspelt_variable_stops_with_the_closest_name(tmp_path: Path) -> None:
    ws = _init(tmp_path)
    r = _teichaku("run", "--workspace", str(ws), env={"TEICHAKU_GAURD__SEND_EXTERNAL": "false"})
    _refused(
        r, "TEICHAKU_GAURD__SEND_EXTERNAL は不明な設定です。TEICHAKU_GUARD__SEND_EXTERNAL ですか？"
    )


def test_misspelt_top_level_key_names_line_three(tmp_path: Path) -> None:
    ws = _init(tmp_path)
    toml = ws / "teichaku.toml"
    lines = toml.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(2, 'databse_url = "postgresql+psycopg://teichaku@db.example.local/teichaku"\n')
    toml.write_text("".join(lines), encoding="utf-8")
    r = _teichaku("run", "--workspace", str(ws))
    _refused(r, "databse_url は不明な設定です。database_url ですか？ (teichaku.toml 3 行目)")


def test_misspelt_key_in_a_known_section_is_japanese_with_line(tmp_path: Path) -> None:
    ws = _init(tmp_path)
    toml = ws / "teichaku.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(
        text.replace("[guard]\n", "[guard]\nsend_externl = false\n", 1), encoding="utf-8"
    )
    line = _line_of(toml, "send_externl")
    r = _teichaku("run", "--workspace", str(ws))
    _refused(
        r,
        f"[guard] の send_externl は不明な設定です。send_external ですか？ (teichaku.toml {line} 行目)",
    )


def test_wrong_type_names_file_line_key_expected_and_given(tmp_path: Path) -> None:
    ws = _init(tmp_path)
    toml = ws / "teichaku.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace("concurrency = 4 ", 'concurrency = "four" ', 1), encoding="utf-8")
    line = _line_of(toml, "concurrency")
    r = _teichaku("run", "--workspace", str(ws))
    _refused(
        r,
        "llm.concurrency の値が正しくありません。整数を指定してください"
        f'（指定された値: "four"） (teichaku.toml {line} 行目)',
    )
    assert "errors.pydantic.dev" not in r.stderr


def test_wrong_type_in_a_variable_names_the_variable(tmp_path: Path) -> None:
    ws = _init(tmp_path)
    r = _teichaku("kpi", "--workspace", str(ws), env={"TEICHAKU_SMTP__PORT": "70000"})
    _refused(
        r,
        "TEICHAKU_SMTP__PORT（smtp.port）の値が正しくありません。65535 以下の値を指定してください"
        '（指定された値: "70000"） (環境変数)',
    )


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["kpi"],
        ["audit"],
        ["specs", "list"],
        ["watch"],
        ["digest", "--out", "digest.html"],
        ["catalog", "--out", "site"],
    ],
)
def test_every_command_that_reads_settings_stops(tmp_path: Path, command: list[str]) -> None:
    ws = _init(tmp_path)
    r = _teichaku(*command, "--workspace", str(ws), env={"TEICHAKU_LLM_MODEL": "gpt-4o"})
    _refused(r, "TEICHAKU_LLM_MODEL は不明な設定です。TEICHAKU_LLM__MODEL ですか？")


def test_initialised_workspace_runs_with_the_test_database_variable_set(tmp_path: Path) -> None:
    ws = _init(tmp_path)
    # TEICHAKU_TEST_PG_URL is the test suite's, not a setting; .ci/run exports it for every test.
    r = _teichaku(
        "run",
        "--workspace",
        str(ws),
        env={"TEICHAKU_TEST_PG_URL": "postgresql+psycopg://postgres@127.0.0.1/x"},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "error" not in r.stderr.lower()


# --- the check in-process: where a name is written, which variables are settings --------------


def _write(ws: Path, text: str) -> Path:
    ws.mkdir(parents=True, exist_ok=True)
    (ws / "teichaku.toml").write_text(text, encoding="utf-8")
    return ws


def _problems(ws: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(ws)
    return str(caught.value).splitlines()[1:]


def test_dotted_inline_and_quoted_keys_are_found_on_their_line(tmp_path: Path) -> None:
    ws = _write(
        tmp_path,
        '# comment\n[llm]\nmodel = """\nfoo = 1\n"""\n'
        "gaurd.send_external = false\n"
        'smtp = { hots = "mail.example.co.jp" }\n'
        '[guard.departments."営業"]\n"polcy" = "local_only"\n',
    )
    assert _problems(ws) == [
        "[llm.gaurd] は不明なセクションです。使える名前: engine, model, concurrency, timeout_seconds, "
        "max_attempts, max_rate_limited, max_retry_after_seconds, context_tokens, "
        "context_tokens_by_model, structured_output, azure_endpoint, azure_api_version, "
        "endpoint_is_local。 (teichaku.toml 6 行目)",
        "[llm.smtp] は不明なセクションです。使える名前: engine, model, concurrency, timeout_seconds, "
        "max_attempts, max_rate_limited, max_retry_after_seconds, context_tokens, "
        "context_tokens_by_model, structured_output, azure_endpoint, azure_api_version, "
        "endpoint_is_local。 (teichaku.toml 7 行目)",
        '[guard.departments."営業"] の polcy は不明な設定です。policy ですか？ (teichaku.toml 9 行目)',
    ]
    _write(ws, "guard = { send_externl = false }\n[Gaurd]\n")
    assert _problems(ws) == [
        "[guard] の send_externl は不明な設定です。send_external ですか？ (teichaku.toml 1 行目)",
        "[Gaurd] は不明なセクションです。[guard] ですか？ (teichaku.toml 2 行目)",
    ]


def test_free_tables_take_any_key_and_top_level_names_any_case(tmp_path: Path) -> None:
    ws = _write(
        tmp_path,
        '[LLM]\nmodel = "m"\n[LLM.context_tokens_by_model]\n"gpt-4o" = 128000\n'
        '[digest.managers]\n"営業部" = ["boss@example.co.jp"]\n'
        "[guard.departments.sales]\nsend_external = false\n",
    )
    s = load_settings(ws)
    assert s.llm.model == "m" and s.llm.context_for("gpt-4o") == 128000
    assert s.digest.managers == {"営業部": ["boss@example.co.jp"]}
    assert s.guard.departments["sales"].send_external is False
    # Two spellings of one section: pydantic would keep one table and silently drop the other.
    _write(ws, '[LLM]\nmodel = "m"\n[llm]\nconcurrency = 2\n')
    assert _problems(ws) == [
        "[LLM] と [llm] は同じセクションです。一つにまとめてください。 (teichaku.toml 3 行目)"
    ]


def test_variables_are_checked_as_pydantic_settings_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _write(tmp_path, "")
    monkeypatch.setenv("teichaku_guard__send_external", "false")  # case-insensitive
    monkeypatch.setenv("TEICHAKU_GUARD__DEPARTMENTS__SALES__POLICY", "local_only")
    monkeypatch.setenv("TEICHAKU_LLM__CONTEXT_TOKENS_BY_MODEL__GPT-4O", "128000")
    monkeypatch.setenv("TEICHAKU_TEST_PG_URL", "postgresql+psycopg://x@y/z")
    s = load_settings(ws)
    assert s.guard.send_external is False
    assert s.guard.departments["sales"].policy == "local_only"
    assert s.llm.context_for("gpt-4o") == 128000

    monkeypatch.setenv("TEICHAKU_GUARD__DEPARTMENTS__SALES__POLCY", "block")
    monkeypatch.setenv("TEICHAKU_GUARD__LABELS", "社外秘")
    monkeypatch.setenv("TEICHAKU_LLM__MODEL__X", "m")
    assert _problems(ws) == [
        "TEICHAKU_GUARD__DEPARTMENTS__SALES__POLCY は不明な設定です。"
        "TEICHAKU_GUARD__DEPARTMENTS__SALES__POLICY ですか？ (環境変数)",
        "TEICHAKU_GUARD__LABELS の値を JSON として読めません。"
        '例: TEICHAKU_GUARD__LABELS=\'["...", "..."]\' (環境変数)',
        "TEICHAKU_LLM__MODEL__X は不明な設定です。TEICHAKU_LLM__MODEL ですか？ (環境変数)",
    ]


def test_secrets_are_never_quoted_and_toml_syntax_is_explained(tmp_path: Path) -> None:
    ws = _write(tmp_path, "[smtp]\npassword = 271828\n")
    (problem,) = _problems(ws)
    assert "smtp.password" in problem and "271828" not in problem and "値は表示しません" in problem
    _write(ws, "[llm]\nmodel =\n")
    (problem,) = _problems(ws)
    assert "TOML として正しくありません" in problem and "2 行目" in problem
    (ws / "teichaku.toml").write_bytes('[llm]\nmodel = "日本語"\n'.encode("cp932"))
    assert _problems(ws) == [
        "teichaku.toml は UTF-8 で保存してください（Shift_JIS などでは読めません）。"
    ]
