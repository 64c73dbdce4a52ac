"""What every deployment shares: names and tags per workspace and department, and the builder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prefect.types.entrypoint import EntrypointType

from core.settings import Settings
from core.specs import load_specs

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment


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


def workspace_deployment(
    flow: Flow[..., Any],
    settings: Settings,
    kind: str,
    *,
    description: str,
    parameters: dict[str, Any] | None = None,
    **schedule: Any,
) -> RunnerDeployment:
    """`flow` as the deployment `<kind>-<workspace>` for this workspace; `schedule` is passed on
    as given (`schedule=` or `schedules=`), `parameters` added to the workspace's own."""
    return flow.to_deployment(
        name=f"{kind}-{workspace_slug(settings)}",
        **schedule,
        parameters={
            "workspace": str(settings.workspace),
            "workspace_name": settings.workspace.name,
            **(parameters or {}),
        },
        tags=tags_for(settings, kind),
        description=description,
        # Module path: every machine has teichaku installed, none shares our checkout's paths.
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
