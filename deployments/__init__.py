"""Prefect deployments: intake (every minute), the weekly digest and the monthly report, per workspace.

`teichaku serve` serves both from one process; `prefect.yaml` at the repository root deploys the
same flows to a process work pool for a worker per machine.

May import: `flows` and below. Imported by: the CLI (`teichaku serve`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from core.settings import Settings

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

ZOMBIE_AUTOMATION = "teichaku: crash flow runs without heartbeat"


def build_deployments(settings: Settings) -> list[RunnerDeployment]:
    # Prefect and the flows (~3 s): only here, after `serve` set PREFECT_API_URL to its server.
    from deployments.digest import digest_deployment
    from deployments.intake import intake_deployment
    from deployments.monthly import monthly_deployment

    return [intake_deployment(settings), digest_deployment(settings), monthly_deployment(settings)]


def ensure_zombie_automation(within_seconds: int) -> None:
    """Mark flow runs Crashed when their heartbeats stop (a killed worker), so a run left Running
    blocks nothing. Prefect's documented recipe; created once per server, found by name after."""
    # Prefect (~0.8 s): not at import, `serve` imports this package before it sets PREFECT_API_URL.
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    try:
        Automation.read(name=ZOMBIE_AUTOMATION)
        return
    except ValueError:
        pass
    Automation(
        name=ZOMBIE_AUTOMATION,
        description="teichaku: heartbeats stopped (process killed) -> Crashed",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            },
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=within_seconds),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message="Flow run marked as crashed: no heartbeat (worker process died).",
            )
        ],
    ).create()
