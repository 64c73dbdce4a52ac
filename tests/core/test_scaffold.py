"""`specs new` without the CLI: the spec written from core/templates/scaffold/ is a valid,
commented spec whatever names the user types, and a bad id says what to type."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.errors import ConfigError
from core.scaffold import EXAMPLE_INPUT_NAME, parse_spec_id, scaffold_spec
from core.specs import load_specs


@pytest.mark.parametrize("bad", ["sales", "Sales/minutes", "sales/議事録", "a/b/c"])
def test_spec_id_must_be_dept_slash_doc(bad: str) -> None:
    with pytest.raises(ConfigError, match="部署ID/文書ID"):
        parse_spec_id(bad)


def test_names_the_user_types_stay_one_yaml_value(tmp_path: Path) -> None:
    title = 'チェック: "至急" # 版'
    made = scaffold_spec(
        tmp_path, "legal/contract_check", existing=load_specs(), department_name="法務部: 本社",
        document_name="契約書 #1", title=title,
    )  # fmt: skip
    raw = yaml.safe_load(made.spec_path.read_text(encoding="utf-8"))
    assert (raw["title"], raw["department_name"], raw["document_name"]) == (
        title,
        "法務部: 本社",
        "契約書 #1",
    )
    assert raw["rules"]["owner"] == "法務部: 本社（DX推進室と共同管理）"
    # The spec's own jinja2 templates are written as they are, not rendered by the scaffold.
    assert "{{ document_text }}" in raw["user_template"]
    assert "{% for row in out.todo %}" in raw["render_template"]
    spec = next(ls.spec for ls in load_specs(tmp_path) if ls.spec.id == "legal/contract_check")
    assert spec.title == title and spec.department_name == "法務部: 本社"
    assert (
        (made.examples / EXAMPLE_INPUT_NAME)
        .read_text(encoding="utf-8")
        .startswith("新しい受付手順")
    )


def test_existing_spec_is_never_overwritten(tmp_path: Path) -> None:
    made = scaffold_spec(tmp_path, "legal/contract_check", existing=load_specs())
    before = made.spec_path.read_bytes()
    with pytest.raises(ConfigError, match="既にあります"):
        scaffold_spec(tmp_path, "legal/contract_check", existing=load_specs())
    assert made.spec_path.read_bytes() == before
