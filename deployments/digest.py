"""The weekly digest deployment: Monday 09:00 Asia/Tokyo by default (`serve.digest_cron`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

from core.settings import Settings
from deployments.common import tags_for, workspace_slug
from flows.digest_flow import digest_flow

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


def digest_deployment(settings: Settings) -> RunnerDeployment:
    return digest_flow.to_deployment(
        name=f"digest-{workspace_slug(settings)}",
        schedules=[Cron(settings.serve.digest_cron, timezone=settings.serve.timezone)],
        parameters={
            "workspace": str(settings.workspace),
            "workspace_name": settings.workspace.name,
        },
        tags=tags_for(settings, "digest"),
        description="週次ダイジェスト（部署別の下書き件数と削減時間）を作成して送ります。",
        # Module path: every machine has teichaku installed, none shares our checkout's paths.
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
