"""The prompt catalogue (プロンプト集): renders a static HTML site from typed data.

One page per spec and an index by department: what to drop where, what comes back, an example
before and after, the rules, and the KPIs so far from the store. Static files, so the DX office
can put them on any intranet share or web server. Templates: `kpi/templates/catalog/`.

This module only reads KPIs and renders; drafting the examples is a composition, so
`flows/catalog.py` builds the site: each spec's first example through the document path with
the offline engine (nothing is sent anywhere), then `render_catalog` here.

Reporting layer: imports `core` (and may import `tasks`), never `flows`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.exc import SQLAlchemyError

from core.settings import sqlite_path
from core.specs import LoadedSpec
from core.store import Store
from core.workspace import folders_for
from kpi.metrics import counted_documents, tally

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
    retention_median: float | None = None  # share of an adopted draft kept (tasks/feedback.py)
    untouched: int = 0  # 無修正での採用
    top_reasons: list[tuple[str, int]] = field(default_factory=list)  # why not used, most first

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
    db = sqlite_path(settings)
    if db is not None and not db.exists():
        return {}, None  # nothing processed yet; do not create a store just to read zeros
    try:
        with Store.open(settings) as store:
            counted = counted_documents(store)
    except SQLAlchemyError as e:
        log.warning("catalog: store not readable: %s", e)
        return {}, "実績データを読めなかったため、実績は 0 と表示しています。"
    # Counted by kpi.metrics' rule (the one `teichaku kpi` uses) without its pandas frame: importing
    # pandas would add ~0.3 s to this command (measured). Per version too, so the DX office sees
    # whether v3 is used more than v2.
    out = {
        spec_id: SpecKpi(
            documents=t.documents,
            drafted=t.drafted,
            quarantined=t.quarantined,
            minutes_saved_est=t.minutes_est,
            adopted=t.adopted,
            rejected=t.rejected,
        )
        for spec_id, t in tally(counted, lambda d: d.spec_id).items()
    }
    by_version = tally(counted, lambda d: (d.spec_id, d.spec_version))
    for (spec_id, version), t in sorted(by_version.items()):
        out[spec_id].versions.append(
            VersionKpi(version, t.documents, t.drafted, t.adopted, t.rejected,
                       t.retention_median, t.untouched, t.top_reasons())
        )  # fmt: skip
    return out, None


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


def example_of(
    loaded: LoadedSpec,
    input_name: str,
    input_text: str,
    output: dict[str, Any],
    markdown: str,
    engine: str,
) -> Example:
    """An example before (the input's text) and after (the draft's sections and its Markdown)."""
    return Example(input_name, input_text, _sections(loaded, output), markdown, engine)


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


def catalog_entry(
    settings: Settings, loaded: LoadedSpec, kpi: SpecKpi, example: Example | None
) -> CatalogEntry:
    """One spec's card and page: its folders relative to the workspace, its figures, its example."""
    f = folders_for(settings, loaded.spec)
    return CatalogEntry(
        loaded=loaded,
        page=page_name(loaded.spec.id),
        inbox=_rel(f.inbox, settings.workspace),
        outbox=_rel(f.outbox, settings.workspace),
        kpi=kpi,
        example=example,
    )


def render_catalog(
    settings: Settings, entries: list[CatalogEntry], out_dir: Path, *, kpi_note: str | None
) -> list[Path]:
    """Write index.html and one page per entry into out_dir; returns the files written."""
    departments: dict[str, list[CatalogEntry]] = {}
    for e in sorted(entries, key=lambda e: (e.loaded.spec.department, e.loaded.spec.id)):
        departments.setdefault(e.loaded.spec.department_name, []).append(e)

    env = _env()
    common = {
        "generated_at": datetime.now(settings.zone).strftime("%Y-%m-%d %H:%M %Z"),
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
