"""Times a person reads are in the workspace's zone: `teichaku audit` (time_utc kept for scripts,
time_local added) and the example drafts behind `specs validate` / the catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from core.examples import draft_meta
from core.models import ModelCall
from core.specs import load_specs
from core.store import Store
from teichaku.commands.audit import audit_rows


def test_audit_rows_carry_utc_and_the_workspace_zone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with Store(url) as store:
        # A document row to hang the call on (the call's foreign key).
        store.record_refusal(
            spec_id="sales/followup_mail",
            spec_version=1,
            department="sales",
            key="k1",
            name="商談メモ.txt",
            rel_path="営業部/商談メモ.txt",
            reason="link",
            detail="",
            path=tmp_path / "q",
        )
        doc_id = store.documents()[0].id
        call = ModelCall(engine="openai", model="m", endpoint_host="h")
        store.record_calls(doc_id, "sales/followup_mail", 1, [call])
    [row] = audit_rows(url, ZoneInfo("Asia/Tokyo"))
    utc = datetime.fromisoformat(row["time_utc"])
    local = datetime.fromisoformat(row["time_local"])
    assert utc.tzinfo is None and local.utcoffset() == timedelta(hours=9)
    assert local == utc.replace(tzinfo=UTC)
    assert local.hour == (utc.hour + 9) % 24


def test_example_draft_meta_is_in_the_workspace_zone() -> None:
    spec = load_specs(None)[0].spec
    tokyo = draft_meta(spec).created_at
    assert tokyo.utcoffset() == timedelta(hours=9)
    ny = draft_meta(spec, zone=ZoneInfo("America/New_York")).created_at
    assert ny.tzinfo is not None and abs(ny - tokyo) < timedelta(minutes=1)
