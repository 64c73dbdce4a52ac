"""A spec's inputs.extensions decide what its folder accepts; built-in specs accept every format."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import Refusal
from core.models import RefusalKind
from core.specs import load_specs
from flows.document import check_accepted
from tasks.extract import SUPPORTED_SUFFIXES


def test_every_built_in_spec_accepts_every_supported_format(tmp_path: Path) -> None:
    for loaded in load_specs(tmp_path):
        assert set(loaded.spec.inputs.extensions) == SUPPORTED_SUFFIXES, loaded.spec.id


def test_a_narrowed_spec_refuses_other_formats_with_its_own_list(tmp_path: Path) -> None:
    spec = next(s.spec for s in load_specs(tmp_path) if s.spec.id == "admin/ringi")
    narrowed = spec.model_copy(
        update={"inputs": spec.inputs.model_copy(update={"extensions": [".docx", ".pdf"]})}
    )
    check_accepted(tmp_path / "稟議.PDF", narrowed)  # suffixes compare case-insensitively
    with pytest.raises(Refusal) as info:
        check_accepted(tmp_path / "見積.xlsx", narrowed)
    assert info.value.kind is RefusalKind.UNSUPPORTED_TYPE
    assert ".docx、.pdf" in info.value.reason_ja and "このフォルダ" in info.value.reason_ja
    # A format no reader knows keeps the general reason, which lists every supported format.
    check_accepted(tmp_path / "setup.exe", narrowed)


def test_a_workspace_spec_without_extensions_accepts_every_supported_format(
    tmp_path: Path,
) -> None:
    built_in = next(s for s in load_specs() if s.spec.id == "admin/ringi")
    lines = built_in.path.read_text(encoding="utf-8").splitlines(keepends=True)
    own = tmp_path / "prompt_specs" / "admin" / "ringi.yaml"
    own.parent.mkdir(parents=True)
    own.write_text("".join(x for x in lines if "extensions:" not in x), encoding="utf-8")
    loaded = next(s for s in load_specs(tmp_path) if s.spec.id == "admin/ringi")
    assert loaded.origin == "workspace"
    assert loaded.spec.inputs.extensions == []
    for suffix in SUPPORTED_SUFFIXES:
        check_accepted(tmp_path / f"日報{suffix}", loaded.spec)
    check_accepted(tmp_path / "日報.xlsx", loaded.spec)
