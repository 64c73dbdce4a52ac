"""What both deployments share: names and tags per workspace and department."""

from __future__ import annotations

from core.settings import Settings
from core.specs import load_specs


def workspace_slug(settings: Settings) -> str:
    # Deployment names may not contain "/" or "%"; one server can carry several workspaces.
    return settings.workspace.name.replace("/", "-").replace("%", "-") or "workspace"


def tags_for(settings: Settings, kind: str) -> list[str]:
    """`teichaku`, the kind, the workspace and every department, so the UI can filter by each."""
    departments = sorted({s.spec.department for s in load_specs(settings.workspace)})
    return [
        "teichaku",
        kind,
        f"workspace:{workspace_slug(settings)}",
        *(f"dept:{d}" for d in departments),
    ]
