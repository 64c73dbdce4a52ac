"""The specs' example folders: one set of sample inputs for the demo, the catalogue and the tests.

The committed inputs must be exactly what tests/support/samples.py writes (so editing a sample
without writing the files again fails here), in the format each demo document uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.examples import (
    EXPECTATIONS_FILE,
    copy_example_inputs,
    example_inputs,
    examples_dir,
    load_expectations,
)
from core.scaffold import scaffold_spec
from core.specs import BUILTIN_SPEC_DIR, load_specs
from tests.support.samples import SAMPLES, write_sample

BUILTIN = {ls.spec.id: ls for ls in load_specs()}


def test_every_builtin_spec_has_examples() -> None:
    for ls in load_specs():
        exp = load_expectations(BUILTIN_SPEC_DIR / f"{ls.spec.id}.examples" / "expectations.yaml")
        assert exp.cases and all(c.required_sections and c.must_contain for c in exp.cases)


@pytest.mark.parametrize("spec_id", sorted(SAMPLES))
def test_committed_inputs_are_what_the_sample_builders_write(spec_id: str, tmp_path: Path) -> None:
    loaded = BUILTIN[spec_id]
    committed = {p.name: p for p in example_inputs(loaded)}
    assert sorted(committed) == sorted(s.filename for s in SAMPLES[spec_id])
    for sample in SAMPLES[spec_id]:
        fresh = write_sample(sample, tmp_path)
        path = committed[sample.filename]
        assert path.read_bytes() == fresh.read_bytes(), (
            f"{path} differs from its sample: run `.venv/bin/python -m tests.support.samples`"
        )
        assert path.stat().st_size < 100_000  # small enough to live in git


def test_demo_formats_cover_every_reader() -> None:
    suffixes = {p.suffix for ls in BUILTIN.values() for p in example_inputs(ls)}
    assert suffixes == {".docx", ".pdf", ".txt", ".md"}
    ringi = example_inputs(BUILTIN["admin/ringi"])[0].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        ringi.decode("utf-8")  # Shift_JIS (cp932), as Windows users save it
    assert "稟議" in ringi.decode("cp932")


def test_copy_drops_the_same_bytes_into_an_inbox(tmp_path: Path) -> None:
    inbox = tmp_path / "営業部" / "商談議事録" / "受付"
    loaded = BUILTIN["sales/meeting_minutes"]
    [copied] = copy_example_inputs(loaded, inbox)
    assert copied.parent == inbox and copied.suffix == ".docx"
    assert copied.read_bytes() == (examples_dir(loaded) / copied.name).read_bytes()


def test_inputs_follow_the_expectations_once_each(tmp_path: Path) -> None:
    made = scaffold_spec(tmp_path, "legal/contract_check", existing=load_specs())
    exp = made.examples / EXPECTATIONS_FILE
    text = exp.read_text(encoding="utf-8")
    case = text[text.index("  - input:") :]
    exp.write_text(
        text + case + case.replace("例1_メモ.txt", "ない.txt"), encoding="utf-8"
    )  # the same input twice, then a missing one
    (made.examples / "置いただけ.txt").write_text("ケースにない", encoding="utf-8")
    loaded = next(ls for ls in load_specs(tmp_path) if ls.spec.id == "legal/contract_check")
    assert [p.name for p in example_inputs(loaded)] == ["例1_メモ.txt"]
