"""The weekly digest deployment: Monday 09:00 Asia/Tokyo by default (`serve.digest_cron`)."""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

from core.settings import Settings
from deployments.common import tags_for, workspace_slug

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

DIGEST_ENTRYPOINT = "flows.digest.digest_flow"
DIGEST_FLOW_NAME = "teichaku-digest"  # used only while flows/digest.py is not installed


def digest_deployment(settings: Settings) -> RunnerDeployment:
    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    schedule = Cron(settings.serve.digest_cron, timezone=settings.serve.timezone)
    common: dict[str, Any] = {
        "name": f"digest-{workspace_slug(settings)}",
        "schedules": [schedule],
        "tags": tags_for(settings, "digest"),
        "description": "週次ダイジェスト（部署別の下書き件数と削減時間）を作成して送ります。",
    }
    params: dict[str, Any] = {
        "workspace": str(settings.workspace),
        "workspace_name": settings.workspace.name,
    }
    try:
        module = importlib.import_module(DIGEST_ENTRYPOINT.rsplit(".", 1)[0])
        flow = getattr(module, DIGEST_ENTRYPOINT.rsplit(".", 1)[1])
    except (ImportError, AttributeError):
        # The digest flow is built elsewhere; register it by import path so the schedule exists
        # and runs start working as soon as the module is installed.
        return RunnerDeployment(
            flow_name=DIGEST_FLOW_NAME,
            entrypoint=DIGEST_ENTRYPOINT,
            parameters=params,
            enforce_parameter_schema=False,
            **common,
        )
    accepted = inspect.signature(flow.fn).parameters
    params = {k: v for k, v in params.items() if k in accepted}
    return flow.to_deployment(
        parameters=params, entrypoint_type=EntrypointType.MODULE_PATH, **common
    )
