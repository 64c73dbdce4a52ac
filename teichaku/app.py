"""The `teichaku` application that every command module adds its commands to, and the helpers
they share: the consoles, the --workspace option, and turning a settings or spec mistake into a
clean exit 2. The command modules import this module; this module imports only `core`.

Heavy imports (Prefect, pandas, parsers, GiNZA) happen inside the commands that need them:
commands that run no flow must answer in well under 1.5 s (measured: importing flows.batch alone
costs ~1 s, Prefect ~1.5 s)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.settings import Settings
    from core.specs import LoadedSpec

app = typer.Typer(
    name="teichaku",
    help="teichaku (定着): drop a document in a department folder, get a reviewed-ready AI draft.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
specs_app = typer.Typer(help="Prompt specs (プロンプト仕様).", no_args_is_help=True)
app.add_typer(specs_app, name="specs")

console = Console()
err = Console(stderr=True)

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder (contains teichaku.toml).")
]


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def settings_for(workspace: Path, *, must_exist: bool = True) -> Settings:
    """The workspace's settings, or exit 2 with what is wrong (no traceback)."""
    from core.settings import CONFIG_FILE, load_settings  # pydantic-settings: ~0.2 s

    if must_exist and not (workspace / CONFIG_FILE).is_file():
        fail(
            f"{workspace} is not a teichaku workspace (no {CONFIG_FILE}). Run: teichaku init {workspace}"
        )
    try:
        return load_settings(workspace)
    except ConfigError as e:  # unknown names, wrong types, unreadable TOML: Japanese, per line
        # escape: the message quotes [sections], which rich would take for markup and drop;
        # soft_wrap: one line per mistake at any terminal width, so it can be grepped.
        err.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from None
    except Exception as e:  # anything unforeseen still exits 2 without a traceback
        fail(f"bad configuration in {workspace / CONFIG_FILE} or TEICHAKU_* variables:\n{e}")


def specs_for(workspace: Path | None) -> list[LoadedSpec]:
    """Built-in and workspace specs, or exit 2 naming the file and field."""
    from core.specs import load_specs  # yaml + pydantic models of every spec

    try:
        return load_specs(workspace)
    except ConfigError as e:
        fail(str(e))
