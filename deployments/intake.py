"""The intake deployment: the intake flow for one workspace, at least once a minute."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from prefect.schedules import Interval

from core.settings import Settings
from deployments.common import workspace_deployment
from flows.intake import intake_flow

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


def intake_deployment(settings: Settings) -> RunnerDeployment:
    return workspace_deployment(
        intake_flow,
        settings,
        "intake",
        schedule=Interval(timedelta(seconds=settings.serve.intake_interval_seconds)),
        # A scheduled run must not read a file still being copied onto the share.
        parameters={"quiet_seconds": settings.watch.quiet_seconds},
        description="受付フォルダのファイルを下書きにします（teichaku intake）。",
    )
