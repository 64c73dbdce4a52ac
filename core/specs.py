"""Prompt specs: one YAML file per department and document type, validated by one schema.

Adding a department means adding a file under `prompt_specs/<department>/<document>.yaml`
(built in) or `<workspace>/prompt_specs/...` (the DX office's own), never code.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from core.errors import ConfigError

BUILTIN_SPEC_DIR = Path(__file__).resolve().parent.parent / "prompt_specs"

_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Column(_Strict):
    name: str = Field(description="Identifier of the column (ascii snake_case).")
    title: str = Field(description="Japanese column heading shown in the draft.")
    description: str = Field("", description="What the model should put here.")


class OutputField(_Strict):
    """One section of the draft. The model fills it; the offline engine extracts it."""

    name: str = Field(description="Identifier (ascii snake_case), used in templates as out.<name>.")
    title: str = Field(description="Japanese section heading, e.g. 決定事項.")
    kind: Literal["text", "list", "table"] = Field(
        description="text: prose; list: bullet points; table: rows with columns."
    )
    description: str = Field(description="Instruction to the model for this section.")
    max_chars: int = Field(
        1200, ge=10, le=20000, description="Upper bound per text / per list item / per cell."
    )
    max_items: int = Field(15, ge=1, le=200, description="Upper bound on list items or table rows.")
    columns: list[Column] | None = Field(None, description="Required for kind=table.")
    keywords: list[str] = Field(
        default_factory=list,
        description="Headings and cue words the offline engine uses to find this section (見出し・手がかり語).",
    )

    @field_validator("name")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not _IDENT.match(v):
            raise ValueError("must be ascii snake_case, e.g. action_items")
        return v


class InputSpec(_Strict):
    # Empty (the field omitted) means every format the readers support: core cannot know them
    # (tasks.extract does), so the check resolves it (flows.document.check_accepted).
    extensions: list[str] = Field(
        default_factory=list,
        description="Accepted file types; omitted or empty: every supported format.",
    )
    description: str = Field(description="What staff should drop here, in Japanese.")


class ModelSettings(_Strict):
    model: str | None = Field(None, description="Model name; None uses llm.model from settings.")
    temperature: float = Field(0.2, ge=0, le=2)
    max_output_tokens: int = Field(1500, ge=64, le=32000)


class UsageRules(_Strict):
    """The department's guideline, written once and printed on every draft."""

    forbidden_inputs: list[str] = Field(
        default_factory=list, description="What must not be dropped here."
    )
    review_duty: str = Field(
        "AIの出力は下書きです。内容・数値・固有名詞を必ず担当者が確認してから使用してください。",
        description="Who must check what before the draft is used.",
    )
    owner: str = Field("DX推進室", description="Who owns this spec and answers questions.")


class PromptSpec(_Strict):
    id: str = Field(description="<department>/<document>; must match the file path.")
    version: int = Field(
        ge=1, description="Bump when the prompt or schema changes; recorded with every draft."
    )
    department: str = Field(description="Department id (ascii), e.g. sales.")
    department_name: str = Field(description="Japanese department name, e.g. 営業部.")
    document_name: str = Field(
        description="Japanese document type, e.g. 商談議事録. Also the folder name."
    )
    title: str = Field(description="Japanese title shown in lists and the catalogue.")
    purpose: str = Field(description="What the draft is for, in Japanese.")
    inputs: InputSpec
    system_prompt: str
    user_template: str = Field(
        description="jinja2; variables: document_text, file_name, spec, today."
    )
    output: list[OutputField] = Field(min_length=1)
    render_template: str = Field(description="jinja2 Markdown; variables: out, meta, spec.")
    baseline_minutes: float = Field(gt=0, description="Minutes the task takes by hand.")
    review_minutes: float = Field(ge=0, description="Minutes to review and fix the draft.")
    baseline_source: str = Field(description="One line: where the baseline comes from.")
    model: ModelSettings = Field(default_factory=ModelSettings)
    rules: UsageRules = Field(default_factory=UsageRules)
    folder: str | None = Field(
        None, description="Folder under the workspace; default <department_name>/<document_name>."
    )
    confidentiality: Literal["block", "local_only", "allow"] | None = Field(
        None,
        description="What happens to a document with a confidentiality label (社外秘...); None: the department's or guard.default_policy.",
    )
    allow_external: bool = Field(
        True, description="False: this spec's documents never go to an external endpoint."
    )
    title_field: str | None = Field(
        None,
        description="Output field (kind text) whose value titles the draft; default: a field named "
        "subject if any, else the source's first heading, else the file name.",
    )
    review_notes: Literal["page", "comment"] = Field(
        "page",
        description="Where the draft's provenance and usage rules go: a final 確認用メモ page, or a "
        "Word comment on the title (house-style drafts; a company form always gets the page).",
    )
    word_template: str | None = Field(
        None,
        description="The company's own Word form (社内様式): a .docx with docxtpl tags "
        "({{ subject }}, {%tr for c in cost %}, meta.*), relative to the spec file.",
    )
    # Where word_template is on disk, set by load_spec_file (the spec file's folder).
    _form_path: Path | None = PrivateAttr(None)

    @field_validator("output")
    @classmethod
    def _tables_have_columns(cls, fields: list[OutputField]) -> list[OutputField]:
        names = [f.name for f in fields]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate field names: {names}")
        for f in fields:
            if f.kind == "table" and not f.columns:
                raise ValueError(f"field {f.name!r}: kind=table needs columns")
        return fields

    @model_validator(mode="after")
    def _title_field_is_text(self) -> PromptSpec:
        if self.title_field is not None:
            kinds = {f.name: f.kind for f in self.output}
            if kinds.get(self.title_field) != "text":
                raise ValueError(
                    f"title_field {self.title_field!r} must name an output field of kind text"
                )
        if self.word_template is not None and not self.word_template.lower().endswith(".docx"):
            raise ValueError(f"word_template {self.word_template!r} must be a .docx file")
        return self

    @property
    def form_path(self) -> Path | None:
        """The company form this spec fills in, or None for the house-style draft."""
        return self._form_path

    @property
    def minutes_saved_estimate(self) -> float:
        return max(self.baseline_minutes - self.review_minutes, 0.0)

    @property
    def folder_rel(self) -> str:
        return self.folder or f"{self.department_name}/{self.document_name}"

    def __getstate__(self) -> dict[Any, Any]:
        # Specs go to worker processes; the cached output model is a class made at run time,
        # which pickle cannot name. The worker rebuilds it on first use.
        state = super().__getstate__()
        state["__dict__"] = {k: v for k, v in state["__dict__"].items() if k != "output_model"}
        return state

    @cached_property
    def output_model(self) -> type[BaseModel]:
        """A pydantic model with bounded fields, used to validate what an engine returns."""
        return build_output_model(self)

    def output_json_schema(self) -> dict[str, Any]:
        """JSON schema for structured output: every field required, no extra keys (strict mode)."""
        props: dict[str, Any] = {}
        for f in self.output:
            if f.kind == "text":
                props[f.name] = {"type": "string", "description": f.description}
            elif f.kind == "list":
                props[f.name] = {
                    "type": "array",
                    "description": f.description,
                    "items": {"type": "string"},
                }
            else:
                cols = f.columns or []
                props[f.name] = {
                    "type": "array",
                    "description": f.description,
                    "items": {
                        "type": "object",
                        "properties": {
                            c.name: {"type": "string", "description": c.description or c.title}
                            for c in cols
                        },
                        "required": [c.name for c in cols],
                        "additionalProperties": False,
                    },
                }
        return {
            "type": "object",
            "properties": props,
            "required": [f.name for f in self.output],
            "additionalProperties": False,
        }


def build_output_model(spec: PromptSpec) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for f in spec.output:
        if f.kind == "text":
            fields[f.name] = (str, Field("", max_length=f.max_chars))
        elif f.kind == "list":
            fields[f.name] = (list[str], Field(default_factory=list, max_length=f.max_items))
        else:
            cols = f.columns or []
            row = create_model(  # type: ignore[call-overload]
                f"{f.name}_row",
                __config__=ConfigDict(extra="forbid"),
                **{c.name: (str, Field("", max_length=f.max_chars)) for c in cols},
            )
            fields[f.name] = (list[row], Field(default_factory=list, max_length=f.max_items))  # type: ignore[valid-type]
    safe = spec.id.replace("/", "__")
    return create_model(f"Output_{safe}", __config__=ConfigDict(extra="forbid"), **fields)  # type: ignore[call-overload]


class LoadedSpec(BaseModel):
    """A validated spec and where it came from."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    spec: PromptSpec
    path: Path
    origin: Literal["builtin", "workspace"]


def format_validation_error(
    path: Path, err: ValidationError, *, what: str = "prompt spec", schema: str = "spec schema"
) -> str:
    """`<path>: invalid <what>` and one line per field (a spec, a spec's expectations.yaml)."""
    lines = [f"{path}: invalid {what}"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = f"unknown field (not in the {schema}; check spelling)"
        lines.append(f"  field {loc}: {msg}")
    return "\n".join(lines)


def load_spec_file(path: Path, root: Path) -> PromptSpec:
    """Parse and validate one spec. Raises ConfigError naming the file and field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a spec must be a YAML mapping")
    expected_id = path.relative_to(root).with_suffix("").as_posix()
    raw.setdefault("id", expected_id)
    try:
        spec = PromptSpec.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_validation_error(path, e)) from e
    if spec.id != expected_id:
        raise ConfigError(
            f"{path}: field id: {spec.id!r} does not match its path ({expected_id!r})"
        )
    if spec.department != expected_id.split("/")[0]:
        raise ConfigError(
            f"{path}: field department: {spec.department!r} does not match the folder"
        )
    if spec.word_template:
        spec._form_path = (path.parent / spec.word_template).resolve()
    return spec


def _scan(root: Path, origin: Literal["builtin", "workspace"]) -> dict[str, LoadedSpec]:
    found: dict[str, LoadedSpec] = {}
    if not root.is_dir():
        return found
    for path in sorted(root.glob("*/*.yaml")):
        spec = load_spec_file(path, root)
        found[spec.id] = LoadedSpec(spec=spec, path=path, origin=origin)
    return found


def load_specs(workspace: Path | None = None) -> list[LoadedSpec]:
    """Built-in specs, then the workspace's own `prompt_specs/` adding to or overriding them."""
    specs = _scan(BUILTIN_SPEC_DIR, "builtin")
    if workspace is not None:
        specs.update(_scan(workspace / "prompt_specs", "workspace"))
    return [specs[k] for k in sorted(specs)]
