"""KPI tables computed with pandas from the store."""

from __future__ import annotations

import pandas as pd

from kpi.store import Store

TOTAL_COLUMNS = [
    "department",
    "spec_id",
    "documents",
    "drafted",
    "quarantined",
    "pending",
    "duplicates",
    "minutes_saved_est",
    "model_calls",
    "prompt_tokens",
    "completion_tokens",
]


def documents_frame(store: Store) -> pd.DataFrame:
    rows = [
        {
            "id": d.id,
            "department": d.department,
            "spec_id": d.spec_id,
            "spec_version": d.spec_version,
            "status": d.status,
            "duplicates": d.duplicates,
            "minutes_saved_est": d.minutes_saved_est if d.status == "drafted" else 0.0,
            "created_at": d.created_at,
            "finished_at": d.finished_at,
        }
        for d in store.documents()
    ]
    return pd.DataFrame(rows, columns=["id", "department", "spec_id", "spec_version", "status", "duplicates",
                                       "minutes_saved_est", "created_at", "finished_at"])


def calls_frame(store: Store) -> pd.DataFrame:
    rows = [
        {"document_id": c.document_id, "spec_id": c.spec_id, "prompt_tokens": c.prompt_tokens,
         "completion_tokens": c.completion_tokens}
        for c in store.model_calls()
    ]
    return pd.DataFrame(rows, columns=["document_id", "spec_id", "prompt_tokens", "completion_tokens"])


def totals(store: Store) -> pd.DataFrame:
    """Totals by department and spec: documents, outcomes, estimated minutes saved, model usage."""
    docs = documents_frame(store)
    if docs.empty:
        return pd.DataFrame(columns=TOTAL_COLUMNS)
    g = docs.groupby(["department", "spec_id"])
    out = pd.DataFrame(
        {
            "documents": g.size(),
            "drafted": g["status"].apply(lambda s: int((s == "drafted").sum())),
            "quarantined": g["status"].apply(lambda s: int((s == "quarantined").sum())),
            "pending": g["status"].apply(lambda s: int((s == "pending").sum())),
            "duplicates": g["duplicates"].sum(),
            "minutes_saved_est": g["minutes_saved_est"].sum(),
        }
    ).reset_index()
    calls = calls_frame(store)
    usage = (
        calls.groupby("spec_id").agg(
            model_calls=("document_id", "size"),
            prompt_tokens=("prompt_tokens", "sum"),
            completion_tokens=("completion_tokens", "sum"),
        )
        if not calls.empty
        else pd.DataFrame(columns=["model_calls", "prompt_tokens", "completion_tokens"])
    )
    out = out.merge(usage, how="left", left_on="spec_id", right_index=True)
    out[["model_calls", "prompt_tokens", "completion_tokens"]] = (
        out[["model_calls", "prompt_tokens", "completion_tokens"]].fillna(0).astype(int)
    )
    return out[TOTAL_COLUMNS].sort_values(["department", "spec_id"]).reset_index(drop=True)
