"""`teichaku specs new`: a commented spec and its examples folder, written from a spec id.

What is written comes from files in `core/templates/scaffold/`: `spec.yaml.j2` (jinja2; the
spec's own jinja2 templates sit inside `{% raw %}` in it), and `expectations.yaml` plus
`example_input.txt`, copied as they are. A built-in id is copied instead (spec and examples),
so the workspace overrides it.

Ground layer: imports only `core`.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from core.errors import ConfigError
from core.examples import EXAMPLES_SUFFIX, EXPECTATIONS_FILE, examples_dir
from core.specs import _IDENT, LoadedSpec

_TEMPLATES = Path(__file__).resolve().parent / "templates" / "scaffold"
EXAMPLE_INPUT_NAME = "例1_メモ.txt"

_COPY_HEADER = (
    "# 組み込みの仕様 {spec_id} のコピーです。このワークスペースでは、こちらが組み込みの仕様の代わりに使われます。\n"
    "# 変更したら version を 1 つ上げてください（版ごとの採用率を比べられます）。\n"
)


@dataclass
class Scaffold:
    spec_path: Path
    examples: Path
    copied_from: Path | None = None  # a built-in spec copied to be overridden
    form: Path | None = None  # the company form copied beside the spec (word_template)


def parse_spec_id(spec_id: str) -> tuple[str, str]:
    """'sales/followup_mail' -> ('sales', 'followup_mail'), or ConfigError saying what to type."""
    parts = spec_id.strip().strip("/").split("/")
    if len(parts) != 2 or not all(_IDENT.match(p) for p in parts):
        raise ConfigError(
            f"仕様IDは「部署ID/文書ID」の形で、半角英小文字・数字・_ で指定してください（例: sales/followup_mail）: {spec_id!r}"
        )
    return parts[0], parts[1]


def _yaml_str(value: str) -> str:
    # JSON strings are valid YAML scalars, so any name the user types stays one value.
    return json.dumps(value, ensure_ascii=False)


@lru_cache(maxsize=1)
def _env() -> Environment:
    # Our own template (not the DX office's) writing YAML: no escaping, whitespace kept as written.
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["yaml_str"] = _yaml_str
    return env


def render_spec(
    dept: str, doc: str, *, department_name: str, document_name: str, title: str
) -> str:
    """The commented spec file for a new id (the text `specs new` writes)."""
    return (
        _env()
        .get_template("spec.yaml.j2")
        .render(
            spec_id=f"{dept}/{doc}",
            department=dept,
            department_name=department_name,
            document_name=document_name,
            title=title,
            examples_name=f"{doc}{EXAMPLES_SUFFIX}",
        )
    )


_FORM_LINE = re.compile(r"^word_template:.*$", re.M)
_FORM_COMMENT = "# 社内様式（Word）: 下書きはこの様式に差し込んで作ります（タグは {{ 出力項目名 }} と meta.〜）。\n"


def copy_form(spec_path: Path, form: Path) -> Path:
    """Copy a company form (.docx) beside the spec and point `word_template` at the copy."""
    if form.suffix.lower() != ".docx" or not form.is_file():
        raise ConfigError(f"{form}: Word の様式ファイル（.docx）を指定してください。")
    dest = spec_path.parent / form.name
    if dest.resolve() != form.resolve():
        shutil.copyfile(form, dest)
    text = spec_path.read_text(encoding="utf-8")
    line = f"word_template: {_yaml_str(form.name)}"
    if _FORM_LINE.search(text):
        text = _FORM_LINE.sub(lambda _: line, text, count=1)
    else:
        text = text.rstrip("\n") + "\n" + _FORM_COMMENT + line + "\n"
    spec_path.write_text(text, encoding="utf-8")
    return dest


def _copy_builtin(builtin: LoadedSpec, spec_path: Path, examples: Path) -> Scaffold:
    header = _COPY_HEADER.format(spec_id=builtin.spec.id)
    spec_path.write_text(header + builtin.path.read_text(encoding="utf-8"), encoding="utf-8")
    if builtin.spec.form_path is not None and builtin.spec.form_path.is_file():
        shutil.copyfile(builtin.spec.form_path, spec_path.parent / builtin.spec.form_path.name)
    src_examples = examples_dir(builtin)
    if src_examples.is_dir():
        shutil.copytree(src_examples, examples)
    else:
        examples.mkdir()
    return Scaffold(spec_path, examples, copied_from=builtin.path)


def scaffold_spec(
    workspace: Path,
    spec_id: str,
    *,
    existing: list[LoadedSpec],
    department_name: str | None = None,
    document_name: str | None = None,
    title: str | None = None,
    form: Path | None = None,
) -> Scaffold:
    """Write a commented spec and its examples into `<workspace>/prompt_specs/`.

    An id that is built in is copied (spec and examples) so the workspace can override it.
    `form`: a company Word form copied beside the spec as its `word_template`.
    """
    made = _scaffold(workspace, spec_id, existing, department_name, document_name, title)
    if form is not None:
        made.form = copy_form(made.spec_path, form)
    return made


def _scaffold(
    workspace: Path,
    spec_id: str,
    existing: list[LoadedSpec],
    department_name: str | None,
    document_name: str | None,
    title: str | None,
) -> Scaffold:
    dept, doc = parse_spec_id(spec_id)
    spec_path = workspace / "prompt_specs" / dept / f"{doc}.yaml"
    examples = spec_path.with_suffix(EXAMPLES_SUFFIX)
    if spec_path.exists() or examples.exists():
        raise ConfigError(
            f"{spec_path} は既にあります。別のIDを指定するか、既存のファイルを編集してください。"
        )
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    builtin = next(
        (s for s in existing if s.spec.id == f"{dept}/{doc}" and s.origin == "builtin"), None
    )
    if builtin is not None:
        return _copy_builtin(builtin, spec_path, examples)

    known = {s.spec.department: s.spec.department_name for s in existing}
    dept_name = department_name or known.get(dept) or dept
    doc_name = document_name or doc
    text = render_spec(
        dept,
        doc,
        department_name=dept_name,
        document_name=doc_name,
        title=title or f"{doc_name} → 要点・ToDoドラフト",
    )
    spec_path.write_text(text, encoding="utf-8")
    examples.mkdir()
    shutil.copyfile(_TEMPLATES / EXPECTATIONS_FILE, examples / EXPECTATIONS_FILE)
    shutil.copyfile(_TEMPLATES / "example_input.txt", examples / EXAMPLE_INPUT_NAME)
    return Scaffold(spec_path, examples)
