"""The intake deployment: the intake flow for one workspace, at least once a minute."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from prefect.schedules import Interval
from prefect.types.entrypoint import EntrypointType

from core.settings import Settings
from deployments.common import tags_for, workspace_slug
from flows.intake import intake_flow

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


def intake_deployment(settings: Settings) -> RunnerDeployment:
    return intake_flow.to_deployment(
        name=f"intake-{workspace_slug(settings)}",
        schedule=Interval(timedelta(seconds=settings.serve.intake_interval_seconds)),
        parameters={
            "workspace": str(settings.workspace),
            "workspace_name": settings.workspace.name,
            # A scheduled run must not read a file still being copied onto the share.
            "quiet_seconds": settings.watch.quiet_seconds,
        },
        tags=tags_for(settings, "intake"),
        description="受付フォルダのファイルを下書きにします（teichaku intake）。",
        # Module path: every machine has teichaku installed, none shares our checkout's paths.
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
