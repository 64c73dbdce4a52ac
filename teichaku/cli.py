"""`teichaku` command line: the entry point. The application and its shared helpers are in
teichaku/app.py; each module in teichaku/commands adds the commands of one area to it."""

from __future__ import annotations

import importlib
import pkgutil
import sys

from rich.markup import escape

from core.errors import ConfigError
from teichaku import commands
from teichaku.app import app, err


def _register_command_modules() -> None:
    """Each module in teichaku/commands adds its commands to `app` (one module per area)."""
    # intake (init, run, demo) first: `teichaku --help` lists commands in registration order.
    modules = sorted(
        pkgutil.iter_modules(commands.__path__), key=lambda i: (i.name != "intake", i.name)
    )
    for info in modules:
        importlib.import_module(f"teichaku.commands.{info.name}")


def main() -> None:
    _register_command_modules()
    try:
        app()
    except ConfigError as e:
        # escape: messages quote [sections] and [会社1], which rich would take for markup.
        err.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
