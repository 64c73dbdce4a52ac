"""The one settings module. Values come from, highest first:

1. environment variables `TEICHAKU_<SECTION>__<KEY>` (and `TEICHAKU_DATABASE_URL`),
2. the workspace's `teichaku.toml`,
3. the defaults below.

Nothing else in teichaku reads os.environ. The model endpoint itself is configured the way the
openai client expects (`OPENAI_BASE_URL`, `OPENAI_API_KEY`; Azure by the `llm.azure_*` settings).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE = "teichaku.toml"
STATE_DIR = ".teichaku"  # store, locks, Prefect home: never inside a watched folder


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LLMSettings(_Section):
    engine: Literal["openai", "offline"] | None = Field(
        None,
        description="openai: any OpenAI-compatible endpoint; offline: embedded extractive engine. "
        "Default: openai when OPENAI_API_KEY (or Azure settings) are present, else offline.",
    )
    model: str = Field("gpt-4o-mini", description="Model name (Azure: the deployment name).")
    concurrency: int = Field(4, ge=1, le=256, description="Most model requests in flight at once.")
    timeout_seconds: float = Field(60.0, gt=0, description="Per-request timeout; the client's 600 s default is far too long.")
    max_attempts: int = Field(4, ge=1, le=20, description="Attempts per request on 429 / 5xx / timeout.")
    max_retry_after_seconds: float = Field(60.0, gt=0, description="Upper bound on a server's Retry-After.")
    context_tokens: int = Field(16000, ge=512, description="Context window of the model, in tokens.")
    context_tokens_by_model: dict[str, int] = Field(
        default_factory=dict, description="Per-model context windows, overriding context_tokens."
    )
    structured_output: Literal["auto", "json_schema", "json_object", "prompt"] = Field(
        "auto",
        description="auto: try json_schema, fall back to json_object, then to a schema in the prompt.",
    )
    azure_endpoint: str | None = Field(None, description="Azure OpenAI endpoint; set to use Azure.")
    azure_api_version: str = Field("2024-10-21", description="Azure OpenAI api-version (json_schema needs a recent one).")
    endpoint_is_local: bool = Field(
        False, description="True when the endpoint runs inside the company (e.g. Ollama / vLLM on premises)."
    )

    def context_for(self, model: str) -> int:
        return self.context_tokens_by_model.get(model, self.context_tokens)


class FolderNames(_Section):
    inbox: str = Field("受付", description="Where staff drop files.")
    outbox: str = Field("下書き", description="Where drafts appear.")
    archive: str = Field("処理済み", description="Where originals go after a draft is made.")
    quarantine: str = Field("隔離", description="Where refused files go, with a reason file.")


class IntakeSettings(_Section):
    quiet_seconds: float = Field(
        0.0,
        ge=0,
        description="A file is read only when unchanged this long. `teichaku watch` uses at least 2 s.",
    )
    max_file_mb: float = Field(100.0, gt=0, description="Larger files are refused before parsing.")
    zip_max_total_mb: float = Field(300.0, gt=0, description="docx: most uncompressed bytes in all members.")
    zip_max_ratio: float = Field(150.0, gt=1, description="docx: most compression ratio of any member.")
    pdf_max_pages: int = Field(2000, ge=1, description="PDFs with more pages are refused.")
    pdf_timeout_seconds: float = Field(120.0, gt=0, description="Time bound for reading one PDF.")
    pdf_memory_mb: int = Field(1024, ge=128, description="Memory bound for the process reading one PDF.")
    lease_seconds: float = Field(600.0, gt=0, description="A claim older than this is taken over (dead worker).")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TEICHAKU_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    workspace: Path = Field(Path("."), description="Workspace root (set by --workspace).")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default a SQLite file in <workspace>/.teichaku/."
    )
    llm: LLMSettings = Field(default_factory=LLMSettings)
    folders: FolderNames = Field(default_factory=FolderNames)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)

    @model_validator(mode="after")
    def _defaults_from_environment(self) -> Settings:
        self.workspace = self.workspace.expanduser().resolve()
        if self.llm.engine is None:
            has_key = bool(os.environ.get("OPENAI_API_KEY")) or bool(
                self.llm.azure_endpoint and os.environ.get("AZURE_OPENAI_API_KEY")
            )
            self.llm.engine = "openai" if has_key else "offline"
        if not self.database_url:
            self.database_url = f"sqlite:///{self.state_dir / 'teichaku.db'}"
        return self

    @property
    def state_dir(self) -> Path:
        return self.workspace / STATE_DIR

    @property
    def engine(self) -> str:
        assert self.llm.engine is not None
        return self.llm.engine

    @property
    def openai_base_url(self) -> str | None:
        """The endpoint the openai client will use (for the audit trail and the draft header)."""
        return os.environ.get("OPENAI_BASE_URL")


def load_settings(workspace: Path | str, **overrides: Any) -> Settings:
    """Settings for one workspace: its teichaku.toml under the environment, overrides on top."""
    ws = Path(workspace).expanduser().resolve()
    toml_path = ws / CONFIG_FILE

    class _WorkspaceSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_path, deep_merge=True)
            return (init_settings, env_settings, toml)

    return _WorkspaceSettings(workspace=ws, **overrides)


def apply_prefect_defaults(settings: Settings) -> None:
    """Prefect reads its own settings from the environment; give it quiet, per-workspace defaults
    before it is imported, without overriding anything the operator set."""
    defaults = {
        # The in-process server keeps its database in the workspace, not in ~/.prefect.
        "PREFECT_HOME": str(settings.state_dir / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_LOGGING_LEVEL": "ERROR",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    }
    if os.environ.get("PREFECT_API_URL"):
        defaults.pop("PREFECT_HOME")
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
