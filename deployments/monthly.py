"""The monthly report deployment: wakes at 09:00 on the month's first days (`report.cron`,
`serve.timezone`); the flow itself decides whether today is the first working day."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

from core.settings import Settings
from deployments.common import tags_for, workspace_slug
from flows.monthly_flow import monthly_flow

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


def monthly_deployment(settings: Settings) -> RunnerDeployment:
    return monthly_flow.to_deployment(
        name=f"monthly-{workspace_slug(settings)}",
        # A cron cannot say "first working day": it wakes on days 1-7 and the flow checks.
        schedules=[Cron(settings.report.cron, timezone=settings.serve.timezone)],
        parameters={
            "workspace": str(settings.workspace),
            "workspace_name": settings.workspace.name,
        },
        tags=tags_for(settings, "monthly"),
        description="月次レポート（部署別の利用状況・不採用の理由・隔離の理由・横展開の候補）を作ります。",
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
