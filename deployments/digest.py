"""The weekly digest deployment: Monday 09:00 Asia/Tokyo by default (`serve.digest_cron`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect.schedules import Cron

from core.settings import Settings
from deployments.common import workspace_deployment
from flows.digest_flow import digest_flow

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


def digest_deployment(settings: Settings) -> RunnerDeployment:
    return workspace_deployment(
        digest_flow,
        settings,
        "digest",
        schedules=[Cron(settings.serve.digest_cron, timezone=settings.serve.timezone)],
        description="週次ダイジェスト（部署別の下書き件数と削減時間）を作成して送ります。",
    )
