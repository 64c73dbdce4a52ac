"""Settings mistakes in words a DX office reads. A misspelt section, key or TEICHAKU_* variable
was accepted without a word (so `[gaurd] send_external = false` left data going out); here every
name in teichaku.toml and the environment is checked against the settings model, and a value of
the wrong type is explained in Japanese, naming the file and line or the variable, the name, and
the closest known one. Generic over the model class, so core.settings can import it."""

from __future__ import annotations

import difflib
import json
import re
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError

# Variables with our prefix that are not settings. TEICHAKU_TEST_PG_URL is the test suite's
# PostgreSQL (tests/conftest.py; .ci/run exports it for `make test`), so every command the tests
# start sees it. Anything else named TEICHAKU_* is a setting or a mistake.
NOT_SETTINGS = frozenset({"TEICHAKU_TEST_PG_URL"})


@dataclass
class Node:
    """What may be written at one place: a section's keys, a table of free keys (department ids,
    model names) each holding `entries`, or a plain value."""

    fields: dict[str, Node] | None = None
    entries: Node | None = None
    annotation: Any = None

    @property
    def complex(self) -> bool:
        """pydantic-settings reads such a variable's value as JSON."""
        origin = get_origin(self.annotation) or self.annotation
        return self.fields is not None or self.entries is not None or origin in (list, dict, set)


def schema(model: type[BaseModel]) -> Node:
    return Node(fields={name: _node(f.annotation) for name, f in model.model_fields.items()})


def _node(annotation: Any) -> Node:
    ann = _without_none(annotation)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return schema(ann)
    if get_origin(ann) is dict:
        return Node(entries=_node(get_args(ann)[1]))
    return Node(annotation=ann)


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation


def _toml_key(part: str) -> str:
    return part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part, ensure_ascii=False)


def dotted(path: tuple[str, ...]) -> str:
    return ".".join(_toml_key(p) for p in path)


def _closest(name: str, known: list[str]) -> str | None:
    lowered = {k.lower(): k for k in known}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


# --- where a key is written: tomllib gives no line numbers, so scan the text -----------------

_KEY_PART = re.compile(r"""\s*(?:([A-Za-z0-9_-]+)|("(?:[^"\\]|\\.)*")|'([^']*)')\s*""")


def _parse_key(text: str, pos: int) -> tuple[tuple[str, ...], int] | None:
    """A TOML key (bare, "quoted" or 'literal' parts joined by dots) at `pos`, and where it ends."""
    parts: list[str] = []
    while m := _KEY_PART.match(text, pos):
        bare, basic, literal = m.groups()
        if basic is not None:
            try:
                parts.append(json.loads(basic))
            except ValueError:  # a TOML escape JSON lacks (\UXXXXXXXX): the raw text will do
                parts.append(basic[1:-1])
        else:
            parts.append(bare if bare is not None else literal)
        pos = m.end()
        if not text.startswith(".", pos):
            return tuple(parts), pos
        pos += 1
    return None


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Line of the first `[table]` header or `key =` line that writes each path (and its prefixes)."""
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    open_string: str | None = None  # inside a multi-line string nothing is a key
    for number, line in enumerate(text.splitlines(), 1):
        if open_string:
            open_string = None if open_string in line else open_string
            continue
        stripped = line.strip()
        if stripped.startswith("["):
            start = 2 if stripped.startswith("[[") else 1
            parsed = _parse_key(stripped, start)
            if parsed and stripped[parsed[1] :].startswith("]"):
                table = parsed[0]
                _remember(found, table, number)
            continue
        parsed = _parse_key(stripped, 0)
        if parsed and stripped[parsed[1] :].startswith("="):
            _remember(found, table + parsed[0], number)
            value = stripped[parsed[1] + 1 :]
            open_string = next((q for q in ('"""', "'''") if value.count(q) % 2), None)
    return found


def _remember(found: dict[tuple[str, ...], int], path: tuple[str, ...], number: int) -> None:
    for i in range(1, len(path) + 1):
        found.setdefault(path[:i], number)


@dataclass
class SettingsCheck:
    """One workspace's teichaku.toml and environment, checked against the settings model."""

    root: Node
    toml_path: Path
    environ: Mapping[str, str]
    prefix: str = "TEICHAKU_"
    delimiter: str = "__"
    problems: list[tuple[int, str]] = field(default_factory=list)
    _lines: dict[tuple[str, ...], int] = field(default_factory=dict)

    # --- teichaku.toml ------------------------------------------------------------------------

    def read_toml(self) -> dict[str, Any]:
        """The file's tables, or a ConfigError-ready problem list when it cannot be read."""
        name = self.toml_path.name
        try:
            text = self.toml_path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            return {}
        except OSError as e:
            self._add(0, f"{self.toml_path} を読めません（{e.strerror}）。")
            return {}
        except UnicodeDecodeError:
            self._add(0, f"{name} は UTF-8 で保存してください（Shift_JIS などでは読めません）。")
            return {}
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            self._add(0, _toml_syntax(name, text, e))
            return {}
        self._lines = key_lines(text)
        return data

    def check_toml(self, data: dict[str, Any]) -> None:
        assert self.root.fields is not None
        self._walk(data, self.root, (), fold_case=True)
        spellings: dict[str, list[str]] = {}
        for key in data:
            spellings.setdefault(key.lower(), []).append(key)
        for same in (s for s in spellings.values() if len(s) > 1):
            # Top-level names are case-insensitive: pydantic would keep one table and drop the other.
            line, where = self.toml_where((same[-1],))
            written = " と ".join(f"[{_toml_key(k)}]" for k in same)
            self._add(line, f"{written} は同じセクションです。一つにまとめてください。 {where}")

    def _walk(
        self, table: dict[str, Any], node: Node, path: tuple[str, ...], fold_case: bool
    ) -> None:
        assert node.fields is not None
        for key, value in table.items():
            child = node.fields.get(key.lower() if fold_case else key)
            if child is None:
                self._unknown_in_toml(path, key, value, list(node.fields))
            else:
                self._descend(value, child, (*path, key))

    def _descend(self, value: Any, node: Node, path: tuple[str, ...]) -> None:
        if not isinstance(value, dict):
            return  # a plain value where a table belongs: its type error is explained later
        if node.fields is not None:
            self._walk(value, node, path, fold_case=False)
        elif node.entries is not None:
            for key, item in value.items():
                self._descend(item, node.entries, (*path, key))

    def _unknown_in_toml(
        self, path: tuple[str, ...], key: str, value: Any, known: list[str]
    ) -> None:
        best = _closest(key, known)
        line, where = self.toml_where((*path, key))
        if isinstance(value, dict):
            text = f"[{dotted((*path, key))}] は不明なセクションです。"
            hint = f"[{dotted((*path, best))}] ですか？" if best else _known_list(known)
        else:
            owner = f"[{dotted(path)}] の " if path else ""
            text = f"{owner}{_toml_key(key)} は不明な設定です。"
            hint = f"{_toml_key(best)} ですか？" if best else _known_list(known)
        self._add(line, f"{text}{hint} {where}")

    def toml_where(self, path: tuple[str, ...]) -> tuple[int, str]:
        """Line and "(teichaku.toml N 行目)" of a path; an inline table gives its own line."""
        for i in range(len(path), 0, -1):
            if line := self._line(path[:i]):
                return line, f"({self.toml_path.name} {line} 行目)"
        return 0, f"({self.toml_path.name})"

    def _line(self, path: tuple[str, ...]) -> int | None:
        if not path or path in self._lines:
            return self._lines.get(path)
        # Top-level names are case-insensitive ([LLM] is llm in pydantic's error locations).
        folded = [
            n
            for p, n in self._lines.items()
            if p[:1] and p[0].lower() == path[0].lower() and p[1:] == path[1:]
        ]
        return min(folded) if folded else None

    # --- environment --------------------------------------------------------------------------

    def env_parts(self, name: str) -> tuple[str, ...] | None:
        """The settings path a variable names (as pydantic-settings reads it: case-insensitive)."""
        if not name.upper().startswith(self.prefix) or name.upper() in NOT_SETTINGS:
            return None
        return tuple(name[len(self.prefix) :].lower().split(self.delimiter))

    def check_environment(self) -> None:
        for name in sorted(self.environ):
            parts = self.env_parts(name)
            if parts is None:
                continue
            node = _resolve(self.root, parts)
            if node is None:
                best = self._env_suggestion(parts)
                hint = f"{best} ですか？" if best else "似た名前の設定はありません。"
                self._add(10**6, f"{name} は不明な設定です。{hint} (環境変数)")
            elif node.complex and not _is_json(self.environ[name]):
                example = (
                    '\'["...", "..."]\''
                    if node.fields is None and node.entries is None
                    else "'{\"キー\": 値}'"
                )
                self._add(
                    10**6, f"{name} の値を JSON として読めません。例: {name}={example} (環境変数)"
                )

    def _env_suggestion(self, parts: tuple[str, ...]) -> str | None:
        # First mend the one wrong part in place (keeps department ids and the rest as written).
        node, fixed = self.root, list(parts)
        for i, part in enumerate(parts):
            nxt = _resolve(node, (part,))
            if nxt is None:
                if node.fields is None or not (best := _closest(part, list(node.fields))):
                    break
                fixed[i] = best
                if _resolve(self.root, tuple(fixed)) is not None:
                    return self._env_name(tuple(fixed))
                break
            node = nxt
        # Then the closest of every name (catches `TEICHAKU_LLM_MODEL` for `TEICHAKU_LLM__MODEL`).
        return _closest(self._env_name(parts), [self._env_name(p) for p in _paths(self.root)])

    def _env_name(self, path: tuple[str, ...]) -> str:
        return (self.prefix + self.delimiter.join(path)).upper()

    def env_source(self, loc: tuple[str, ...]) -> str | None:
        """The variable that set `loc` (itself, or a whole section given as JSON), if any."""
        best: tuple[int, str] | None = None
        for name in self.environ:
            parts = self.env_parts(name)
            if parts and loc[: len(parts)] == parts and (best is None or len(parts) > best[0]):
                best = (len(parts), name)
        return best[1] if best else None

    # --- values of the wrong type ---------------------------------------------------------------

    def explain(self, error: ValidationError) -> None:
        for e in error.errors(include_url=False):
            loc = tuple(str(p) for p in e["loc"])
            loc = (loc[0].lower(), *loc[1:]) if loc else loc
            env = self.env_source(tuple(p.lower() for p in loc))
            if env:
                line, name, where = 10**6, f"{env}（{dotted(loc)}）", "(環境変数)"
            else:
                line, where = self.toml_where(loc) if self._line(loc) else (0, "")
                name = dotted(loc)
            if e["type"] == "extra_forbidden":
                parent = _resolve(self.root, loc[:-1])
                known = list(parent.fields) if parent and parent.fields else []
                best = _closest(loc[-1], known)
                hint = f"{_toml_key(best)} ですか？" if best else _known_list(known)
                self._add(line, f"{_then(name)}は不明な設定です。{hint} {where}".rstrip())
                continue
            node = _resolve(self.root, loc)
            secret = node is not None and node.annotation is SecretStr
            given = "値は表示しません" if secret else f"指定された値: {_shown(e.get('input'))}"
            self._add(
                line,
                f"{_then(name)}の値が正しくありません。{_expected(e)}を指定してください"
                f"（{given}） {where}".rstrip(),
            )

    def _add(self, line: int, message: str) -> None:
        self.problems.append((line, message))

    def message(self) -> str | None:
        if not self.problems:
            return None
        head = f"設定に誤りがあります（{self.toml_path} または TEICHAKU_* 環境変数）:"
        return "\n".join([head, *(m for _, m in sorted(self.problems, key=lambda p: p[0]))])


def _resolve(node: Node, parts: tuple[str, ...]) -> Node | None:
    for part in parts:
        if node.fields is not None:
            child = node.fields.get(part)
        elif node.entries is not None:
            child = node.entries if part else None
        else:
            child = None
        if child is None:
            return None
        node = child
    return node


def _paths(node: Node, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if node.fields is None:
        return [path]
    out: list[tuple[str, ...]] = [path] if path else []
    for name, child in node.fields.items():
        out += _paths(child, (*path, name))
    return out


def _is_json(value: str) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def _then(name: str) -> str:
    """`name` followed by a particle: a space after ASCII, none after a full-width bracket."""
    return name if name.endswith("）") else f"{name} "


def _known_list(known: list[str]) -> str:
    return f"使える名前: {', '.join(known)}。"


def _toml_syntax(name: str, text: str, error: tomllib.TOMLDecodeError) -> str:
    m = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
    at = f"{m.group(1)} 行目 {m.group(2)} 文字目" if m else "位置不明"
    reason = re.sub(r"\s*\(at .*?\)", "", str(error))
    bom = (
        "（先頭に BOM があります。BOM なしの UTF-8 で保存してください）"
        if text.startswith("\ufeff")
        else ""
    )
    return f"{name} の書き方が TOML として正しくありません{bom}: {reason} ({name} {at})"


_EXPECTED = {
    "int_parsing": "整数",
    "int_type": "整数",
    "int_from_float": "整数（小数なし）",
    "float_parsing": "数値",
    "float_type": "数値",
    "bool_parsing": "true または false",
    "bool_type": "true または false",
    "string_type": '文字列（"..." で囲む）',
    "list_type": '配列（例: ["a", "b"]）',
    "dict_type": "テーブル（[セクション] または { キー = 値 }）",
    "model_type": "テーブル（[セクション] または { キー = 値 }）",
    "model_attributes_type": "テーブル（[セクション] または { キー = 値 }）",
    "path_type": 'パス（"..." で囲む）',
    "json_invalid": "JSON",
}
_BOUNDS = {
    "greater_than_equal": "{ge} 以上の値",
    "greater_than": "{gt} より大きい値",
    "less_than_equal": "{le} 以下の値",
    "less_than": "{lt} より小さい値",
}


def _expected(error: Any) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "literal_error":
        choices = str(ctx.get("expected", "")).replace(" or ", ", ").split(", ")
        return f"次のいずれか（{'、'.join(choices)}）"
    if kind in _BOUNDS:
        return _BOUNDS[kind].format(**ctx)
    return _EXPECTED.get(kind, "正しい形の値")


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
