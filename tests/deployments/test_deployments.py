"""`teichaku serve` against a real Prefect server on loopback: what it registers, and a run
triggered through the Prefect API that drafts a dropped document."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path

import pytest

from deployments import ZOMBIE_AUTOMATION
from tests.support.builders import make_text
from tests.support.service_helpers import (
    SALES_INBOX,
    SALES_OUTBOX,
    init_workspace,
    minutes_text,
    service_env,
    shared_prefect_server,
    start,
    stop_group,
    wait_for,
)

pytestmark = pytest.mark.slow


async def _registered(api: str, names: set[str]) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}):
        async with get_client() as client:
            found = {d.name: d for d in await client.read_deployments() if d.name in names}
            automations = await client.read_automations_by_name(ZOMBIE_AUTOMATION)
    return {"deployments": found, "automations": automations}


def _trigger(api: str, name: str):
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}):
        return run_deployment(name=name, timeout=150)


def test_serve_registers_both_and_an_api_run_drafts(tmp_path: Path) -> None:
    server = shared_prefect_server()
    # A name of its own: the test server keeps deployments from earlier sessions.
    name = f"share{uuid.uuid4().hex[:8]}"
    ws = init_workspace(tmp_path / name)
    log = tmp_path / "serve.log"
    env = service_env(PREFECT_API_URL=server.api_url, TEICHAKU_LLM__ENGINE="offline")
    proc = start(["serve", "--workspace", str(ws)], log, env)
    names = {f"intake-{name}", f"digest-{name}"}
    try:
        seen: dict = {}

        def registered() -> bool:
            assert proc.poll() is None, log.read_text(errors="replace")
            seen.update(asyncio.run(_registered(server.api_url, names)))
            return set(seen["deployments"]) == names and bool(seen["automations"])

        assert wait_for(registered, timeout=90, interval=1.0) is not None, log.read_text(
            errors="replace"
        )
        intake, digest = (
            seen["deployments"][f"intake-{name}"],
            seen["deployments"][f"digest-{name}"],
        )

        (intake_schedule,) = intake.schedules
        assert intake_schedule.active
        assert intake_schedule.schedule.interval.total_seconds() <= 60
        assert {"intake", f"workspace:{name}", "dept:sales", "dept:manufacturing"} <= set(
            intake.tags
        )
        assert intake.parameters["workspace"] == str(ws)

        (digest_schedule,) = digest.schedules
        assert digest_schedule.schedule.cron == "0 9 * * 1"
        assert digest_schedule.schedule.timezone == "Asia/Tokyo"
        assert {"digest", f"workspace:{name}", "dept:hr"} <= set(digest.tags)

        # A document dropped, then an intake run through the Prefect API, executed by `serve`.
        doc = make_text(ws / SALES_INBOX / "API経由.txt", minutes_text(7, "API"))
        time.sleep(2.5)  # older than the quiet period the deployment passes
        run = _trigger(server.api_url, f"teichaku-intake/intake-{name}")
        assert run.state is not None and run.state.is_completed(), (
            run.state,
            log.read_text(errors="replace"),
        )
        assert (ws / SALES_OUTBOX / "API経由.draft.docx").exists()
        assert not doc.exists()
    finally:
        stop_group(proc, signal.SIGTERM)
    assert proc.returncode is not None


def test_prefect_yaml_matches_the_flows() -> None:
    """prefect.yaml (multi-machine) and deployments/ (serve) must not drift apart."""
    import importlib

    import yaml

    config = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "prefect.yaml").read_text(encoding="utf-8")
    )
    by_kind = {d["name"].split("-")[0]: d for d in config["deployments"]}
    assert set(by_kind) == {"intake", "digest"}
    for d in by_kind.values():
        path, func = d["entrypoint"].split(":")
        flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), func)
        assert set(d["parameters"]) <= set(flow.parameters.properties), d["name"]
        assert d["work_pool"]["name"] == "teichaku-process"
    assert by_kind["intake"]["schedules"][0]["interval"] <= 60
    assert by_kind["digest"]["schedules"][0] == {
        "cron": "0 9 * * 1",
        "timezone": "Asia/Tokyo",
        "active": True,
    }
