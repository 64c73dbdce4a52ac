"""`teichaku catalog`: the prompt catalogue (プロンプト集) built from the specs and the store.

For each spec, its first example goes through the one document path (`flows.spec_examples.
run_case`: read, guard, route, generate, restore) with the offline engine, so building the site
sends nothing anywhere and shows what a dropped file really becomes. The KPIs come from the
store (never created here); `kpi.catalog` renders the pages from that typed data.

A composition: imports `kpi`, `tasks`, `core` (and `flows.spec_examples`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from core.engine import Engine
from core.errors import ConfigError
from core.examples import spec_examples
from core.settings import Settings
from core.specs import LoadedSpec
from flows.spec_examples import run_case
from kpi.catalog import Example, SpecKpi, catalog_entry, example_of, load_kpis, render_catalog
from tasks.generate.factory import build_engine
from tasks.render import render_markdown

log = logging.getLogger(__name__)


def build_example(loaded: LoadedSpec, engine: Engine, settings: Settings) -> Example | None:
    """The spec's first example drafted through the document path; None without a usable one."""
    try:
        exp = spec_examples(loaded)
    except ConfigError as e:  # a broken expectations file must not take the whole catalogue down
        log.warning("catalog: %s examples unreadable: %s", loaded.spec.id, e)
        return None
    if exp is None:
        return None
    res = run_case(loaded, exp.cases[0], engine, settings)
    if not res.input_text or res.meta is None:
        log.warning("catalog: %s example not drafted: %s", loaded.spec.id, "; ".join(res.failures))
        return None
    markdown = render_markdown(loaded.spec, res.output, res.meta)
    return example_of(
        loaded, res.example, res.input_text, res.output, markdown, f"{res.engine} / {res.model}"
    )


def build_catalog(settings: Settings, specs: list[LoadedSpec], out_dir: Path) -> list[Path]:
    """Write index.html and one page per spec into out_dir; returns the files written."""
    engine = build_engine(settings, "offline")
    kpis, kpi_note = load_kpis(settings)
    entries = [
        catalog_entry(
            settings,
            loaded,
            kpis.get(loaded.spec.id, SpecKpi()),
            build_example(loaded, engine, settings),
        )
        for loaded in specs
    ]
    return render_catalog(settings, entries, out_dir, kpi_note=kpi_note)
