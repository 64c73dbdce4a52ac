"""A spec's examples: the `<document>.examples/` folder beside it and its `expectations.yaml`.

The folder holds real input documents (.docx, .pdf, .txt, .md, read by the same readers as an
inbox) and one `expectations.yaml`, validated by `Expectations` (extra="forbid", like the spec
itself). The folder name does not end in `.yaml`, so `load_specs` never mistakes an example for
a spec. The same inputs serve `specs test`, the catalogue, `teichaku demo` and the tests.

Ground layer: imports only `core`.
"""

from __future__ import annotations

import shutil
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ConfigError
from core.models import DraftMeta
from core.settings import DigestSettings
from core.specs import LoadedSpec, PromptSpec, format_validation_error

EXAMPLES_SUFFIX = ".examples"
EXPECTATIONS_FILE = "expectations.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExampleCase(_Strict):
    """One input document and what a good draft of it must (not) contain."""

    input: str = Field(description="File name of the input document in the examples folder.")
    description: str = Field("", description="What this example checks, in Japanese.")
    required_sections: list[str] = Field(
        default_factory=list, description="Output field names that must not be empty."
    )
    must_contain: list[str] = Field(
        default_factory=list, description="Text the draft body must contain."
    )
    must_not_contain: list[str] = Field(
        default_factory=list, description="Text the draft body must not contain."
    )
    min_chars: int | None = Field(None, ge=0, description="Lower bound on the draft body length.")
    max_chars: int | None = Field(None, ge=1, description="Upper bound on the draft body length.")


class Expectations(_Strict):
    cases: list[ExampleCase] = Field(min_length=1)


def examples_dir(loaded: LoadedSpec) -> Path:
    return loaded.path.with_suffix(EXAMPLES_SUFFIX)


def load_expectations(path: Path) -> Expectations:
    """Parse one expectations.yaml. Raises ConfigError naming the file and field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e}") from e
    try:
        return Expectations.model_validate(raw)
    except ValidationError as e:
        message = format_validation_error(path, e, what="expectations", schema="schema")
        raise ConfigError(message) from e


def spec_examples(loaded: LoadedSpec) -> Expectations | None:
    """The spec's expectations, or None when it has no examples folder with one."""
    path = examples_dir(loaded) / EXPECTATIONS_FILE
    return load_expectations(path) if path.is_file() else None


def example_inputs(loaded: LoadedSpec) -> list[Path]:
    """The input documents the spec's expectations name, in their order, that exist."""
    exp = spec_examples(loaded)
    if exp is None:
        return []
    folder = examples_dir(loaded)
    names = dict.fromkeys(case.input for case in exp.cases)  # one file may serve several cases
    return [folder / name for name in names if (folder / name).is_file()]


def copy_example_inputs(loaded: LoadedSpec, inbox: Path) -> list[Path]:
    """Copy the spec's example inputs into a folder (an inbox), as a person drops a file: the same
    bytes, a fresh mtime."""
    inbox.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copyfile(src, inbox / src.name)) for src in example_inputs(loaded)]


def draft_meta(
    spec: PromptSpec,
    *,
    source: str = "example.txt",
    engine: str = "offline",
    model: str = "",
    zone: tzinfo | None = None,
) -> DraftMeta:
    """The meta of an example draft (a spec check's trial render, `specs test`, the catalogue).

    作成日時 is read by a person, so it is in the workspace's zone (Settings.zone); without one,
    the default zone of the settings (digest.timezone), never the machine's."""
    zone = zone or ZoneInfo(DigestSettings.model_fields["timezone"].default)
    return DraftMeta(
        source_name=source,
        spec_id=spec.id,
        spec_version=spec.version,
        spec_title=spec.title,
        department_name=spec.department_name,
        engine=engine,
        model=model,
        created_at=datetime.now(zone).replace(microsecond=0),
        offline=engine == "offline",
    )
