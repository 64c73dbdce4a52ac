"""The digest flow in Prefect: artifacts for the UI, and a send that happens once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.settings import load_settings
from core.specs import load_specs
from core.store import Store, worker_identity
from core.workspace import init_workspace
from flows.digest_flow import DIGEST_ARTIFACT_KEY, KPI_ARTIFACT_KEY, digest_flow
from kpi.metrics import current_week
from tests.support.smtp_server import SmtpSink

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "共有"
    init_workspace(ws, load_specs(ws), load_settings(ws))
    settings = load_settings(ws)
    store = Store(settings.database_url or "")
    c = store.claim(spec_id="sales/meeting_minutes", spec_version=1, department="sales", content_hash="h",
                    name="a.docx", rel_path="a.docx", size=1, worker=worker_identity(), lease_seconds=60)  # fmt: skip
    store.mark_drafted(c.document_id, draft_md=ws / "a.draft.md", draft_docx=ws / "a.draft.docx", engine="offline",
                       model="m", chunks=1, minutes_saved_est=30)  # fmt: skip
    store.dispose()
    return ws


def _artifact(key: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    assert found, f"no artifact {key}"
    return found[0]


def test_flow_publishes_artifacts_and_sends_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _workspace(tmp_path)
    week = current_week("Asia/Tokyo")
    with SmtpSink() as sink:
        monkeypatch.setenv("TEICHAKU_SMTP__HOST", "127.0.0.1")
        monkeypatch.setenv("TEICHAKU_SMTP__PORT", str(sink.port))
        monkeypatch.setenv("TEICHAKU_SMTP__STARTTLS", "false")
        monkeypatch.setenv("TEICHAKU_DIGEST__RECIPIENTS", '["dx@example.co.jp"]')
        assert digest_flow(str(ws), week=week) == "sent"
        assert digest_flow(str(ws), week=week) == "already_sent"
        assert len(sink.received) == 1
    table = _artifact(KPI_ARTIFACT_KEY)
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    sales = next(r for r in rows if r["spec_id"] == "sales/meeting_minutes")
    assert (sales["week"], sales["drafts"], sales["hours_saved_est"]) == (week, 1, 0.5)
    assert {r["department_name"] for r in rows} == {"営業部", "製造部", "管理部", "人事部"}
    md = _artifact(DIGEST_ARTIFACT_KEY)
    assert "月間活用ランキング" in md.data and "営業部" in md.data


def test_flow_without_smtp_only_publishes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEICHAKU_SMTP__HOST", raising=False)
    ws = _workspace(tmp_path)
    assert digest_flow(str(ws)) is None  # default week: the last complete one
