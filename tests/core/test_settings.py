from __future__ import annotations

from pathlib import Path

import pytest

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
