"""The prompt catalogue (プロンプト集): a static HTML site generated from the specs.

One page per spec and an index by department: what to drop where, what comes back, an example
before and after (the spec's first example through the offline engine, so building the site
never sends anything anywhere), the rules, and the KPIs so far from the store. Static files,
so the DX office can put them on any intranet share or web server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from core.specs import LoadedSpec

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

INDEX = "index.html"


@dataclass
class VersionKpi:
    version: int
    documents: int = 0
    drafted: int = 0
    adopted: int = 0
    rejected: int = 0

    @property
    def adoption_rate(self) -> float | None:
        judged = self.adopted + self.rejected
        return self.adopted / judged if judged else None


@dataclass
class SpecKpi:
    documents: int = 0
    drafted: int = 0
    quarantined: int = 0
    minutes_saved_est: float = 0.0
    adopted: int = 0
    rejected: int = 0
    versions: list[VersionKpi] = field(default_factory=list)

    @property
    def adoption_rate(self) -> float | None:
        judged = self.adopted + self.rejected
        return self.adopted / judged if judged else None


@dataclass
class Example:
    input_name: str
    input_text: str
    sections: list[dict[str, Any]]  # {title, kind, value, columns}
    markdown: str
    engine: str


@dataclass
class CatalogEntry:
    loaded: LoadedSpec
    page: str
    inbox: str  # relative to the workspace
    outbox: str
    kpi: SpecKpi
    example: Example | None


def load_kpis(settings: Settings) -> tuple[dict[str, SpecKpi], str | None]:
    """KPIs per spec from the store; empty (all zero) when there is no store yet.

    Returns the figures and a Japanese note when they could not be read.
    """
    from core.settings import sqlite_path

    db = sqlite_path(settings)
    if db is not None and not db.exists():
        return {}, None  # nothing processed yet; do not create a store just to read zeros
    from sqlalchemy.exc import SQLAlchemyError

    from core.store import Store

    note = "実績データを読めなかったため、実績は 0 と表示しています。"
    try:
        store = Store(settings.database_url or "")
    except SQLAlchemyError as e:
        log.warning("catalog: store not readable: %s", e)
        return {}, note
    try:
        # One pass over the rows with the counting rule of kpi.metrics.totals (a test keeps them
        # equal): importing pandas for it would cost this command half of its 1.5 s budget.
        verdicts = {f.document_id: f.verdict for f in store.feedback()}
        out: dict[str, SpecKpi] = {}
        versions: dict[tuple[str, int], VersionKpi] = {}
        for d in store.documents():
            k = out.setdefault(d.spec_id, SpecKpi())
            # Adoption per spec version, so the DX office sees whether v3 is used more than v2.
            v = versions.setdefault((d.spec_id, d.spec_version), VersionKpi(d.spec_version))
            k.documents += 1
            v.documents += 1
            k.quarantined += d.status == "quarantined"
            if d.status != "drafted":
                continue
            verdict = verdicts.get(d.id)
            k.drafted += 1
            k.minutes_saved_est += d.minutes_saved_est
            k.adopted += verdict == "adopted"
            k.rejected += verdict == "rejected"
            v.drafted += 1
            v.adopted += verdict == "adopted"
            v.rejected += verdict == "rejected"
        for (spec_id, _), v in sorted(versions.items()):
            out[spec_id].versions.append(v)
        return out, None
    except SQLAlchemyError as e:
        log.warning("catalog: store not readable: %s", e)
        return {}, note
    finally:
        store.dispose()


def _sections(loaded: LoadedSpec, output: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "title": f.title,
            "kind": f.kind,
            "value": output.get(f.name),
            "columns": [(c.name, c.title) for c in f.columns or []],
        }
        for f in loaded.spec.output
    ]


def build_example(loaded: LoadedSpec, settings: Settings) -> Example | None:
    """The spec's first example (or built-in sample) drafted by the offline engine."""
    from core.errors import ConfigError
    from flows.spec_examples import draft_meta, run_case, spec_examples
    from tasks.offline_engine import OfflineEngine
    from tasks.render import render_markdown

    engine = OfflineEngine(settings)
    spec = loaded.spec
    try:
        exp = spec_examples(loaded)
    except ConfigError as e:  # a broken expectations file must not take the whole catalogue down
        log.warning("catalog: %s examples unreadable: %s", spec.id, e)
        exp = None
    name, text, output = "", "", None
    if exp is not None:
        res = run_case(loaded, exp.cases[0], engine, settings)
        if res.input_text:
            name, text, output = res.example, res.input_text, res.output
    if output is None:
        from tests.support.samples import SAMPLES

        samples = SAMPLES.get(spec.id)
        if not samples:
            return None
        name, text = samples[0].filename, samples[0].text()
        output = engine.generate(spec, text, file_name=name).output
    md = render_markdown(
        spec, output, draft_meta(spec, source=name, engine=engine.name, model=engine.model)
    )
    return Example(name, text, _sections(loaded, output), md, f"{engine.name} / {engine.model}")


def page_name(spec_id: str) -> str:
    return spec_id.replace("/", "__") + ".html"


def _published_root(catalog_url: str) -> str:
    # People paste either the folder or its index.html; spec pages sit beside index.html either way.
    root = catalog_url.strip().rstrip("/")
    return root.removesuffix("/" + INDEX)


def index_url(catalog_url: str) -> str:
    """The catalogue's index page where it is published (digest.catalog_url). index.html is named
    explicitly because a file share shows a folder listing, not the index, for a folder link."""
    return f"{_published_root(catalog_url)}/{INDEX}"


def spec_page_url(catalog_url: str, spec_id: str) -> str:
    """A spec's page where the catalogue is published (digest.catalog_url), for links from the digest."""
    return f"{_published_root(catalog_url)}/{quote(page_name(spec_id))}"


def _env() -> Environment:
    # Our own templates (not the DX office's), so a plain environment with HTML autoescaping.
    return Environment(
        loader=PackageLoader("kpi", "templates/catalog"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _rel(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def build_catalog(settings: Settings, specs: list[LoadedSpec], out_dir: Path) -> list[Path]:
    """Write index.html and one page per spec into out_dir; returns the files written."""
    from core.workspace import folders_for

    kpis, kpi_note = load_kpis(settings)
    entries: list[CatalogEntry] = []
    for loaded in specs:
        f = folders_for(settings, loaded.spec)
        entries.append(
            CatalogEntry(
                loaded=loaded,
                page=page_name(loaded.spec.id),
                inbox=_rel(f.inbox, settings.workspace),
                outbox=_rel(f.outbox, settings.workspace),
                kpi=kpis.get(loaded.spec.id, SpecKpi()),
                example=build_example(loaded, settings),
            )
        )
    departments: dict[str, list[CatalogEntry]] = {}
    for e in sorted(entries, key=lambda e: (e.loaded.spec.department, e.loaded.spec.id)):
        departments.setdefault(e.loaded.spec.department_name, []).append(e)

    env = _env()
    common = {
        "generated_at": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "workspace": str(settings.workspace),
        "kpi_note": kpi_note,
        "total_minutes": sum(e.kpi.minutes_saved_est for e in entries),
        "total_drafted": sum(e.kpi.drafted for e in entries),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / INDEX]
    written[0].write_text(
        env.get_template("index.html.j2").render(
            departments=departments, entries=entries, **common
        ),
        encoding="utf-8",
    )
    for e in entries:
        path = out_dir / e.page
        path.write_text(
            env.get_template("spec.html.j2").render(e=e, s=e.loaded.spec, **common),
            encoding="utf-8",
        )
        written.append(path)
    return written
