"""The monthly report deployment: wakes at 09:00 on the month's first days (`report.cron`,
`serve.timezone`); the flow itself decides whether today is the first working day."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect.schedules import Cron

from core.settings import Settings
from deployments.common import workspace_deployment
from flows.monthly_flow import monthly_flow

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


def monthly_deployment(settings: Settings) -> RunnerDeployment:
    return workspace_deployment(
        monthly_flow,
        settings,
        "monthly",
        # A cron cannot say "first working day": it wakes on days 1-7 and the flow checks.
        schedules=[Cron(settings.report.cron, timezone=settings.serve.timezone)],
        description="月次レポート（部署別の利用状況・不採用の理由・隔離の理由・横展開の候補）を作ります。",
    )
