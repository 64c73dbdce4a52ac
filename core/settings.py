"""The one settings module. Values come from, highest first:

1. environment variables `TEICHAKU_<SECTION>__<KEY>` (and `TEICHAKU_DATABASE_URL`),
2. the workspace's `teichaku.toml`,
3. the defaults below.

An unknown section, key or TEICHAKU_* variable stops with a Japanese message (core/settings_check.py):
ignored, a misspelt `[gaurd] send_external = false` would leave a safeguard silently off.

Nothing else in teichaku reads os.environ. The model endpoint itself is configured the way the
openai client expects (`OPENAI_BASE_URL`, `OPENAI_API_KEY`; Azure by the `llm.azure_*` settings).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from core.errors import ConfigError
from core.settings_check import SettingsCheck, schema

CONFIG_FILE = "teichaku.toml"
HEARTBEAT_SECONDS = 30
# Filesystems on which SQLite's locking is unreliable (SQLite docs: "over a network filesystem").
NETWORK_FS_TYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb",
        "smb3",
        "smbfs",
        "9p",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
        "davfs",
        "ncpfs",
    }
)
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
    timeout_seconds: float = Field(
        60.0, gt=0, description="Per-request timeout; the client's 600 s default is far too long."
    )
    max_attempts: int = Field(
        6,
        ge=1,
        le=20,
        description="Attempts per request on 5xx / timeout (and 429 beyond max_rate_limited).",
    )
    max_rate_limited: int = Field(
        20,
        ge=0,
        le=200,
        description="Transient 429s per request that do not count as failed attempts (each waits Retry-After).",
    )
    max_retry_after_seconds: float = Field(
        60.0, gt=0, description="Upper bound on a server's Retry-After."
    )
    context_tokens: int = Field(
        16000, ge=512, description="Context window of the model, in tokens."
    )
    context_tokens_by_model: dict[str, int] = Field(
        default_factory=dict, description="Per-model context windows, overriding context_tokens."
    )
    structured_output: Literal["auto", "json_schema", "json_object", "prompt"] = Field(
        "auto",
        description="auto: try json_schema, fall back to json_object, then to a schema in the prompt.",
    )
    azure_endpoint: str | None = Field(None, description="Azure OpenAI endpoint; set to use Azure.")
    azure_api_version: str = Field(
        "2024-10-21", description="Azure OpenAI api-version (json_schema needs a recent one)."
    )
    endpoint_is_local: bool = Field(
        False,
        description="True when the endpoint runs inside the company (e.g. Ollama / vLLM on premises).",
    )

    def context_for(self, model: str) -> int:
        return self.context_tokens_by_model.get(model, self.context_tokens)


class FolderNames(_Section):
    inbox: str = Field("受付", description="Where staff drop files.")
    outbox: str = Field("下書き", description="Where drafts appear.")
    archive: str = Field("処理済み", description="Where originals go after a draft is made.")
    quarantine: str = Field("隔離", description="Where refused files go, with a reason file.")
    adopted: str = Field(
        "採用", description="Inside the outbox: move a draft here when it was used (feedback)."
    )
    rejected: str = Field(
        "不採用",
        description="Inside the outbox: move a draft here when it was not used (feedback).",
    )
    rejection_reasons: list[str] = Field(
        default_factory=lambda: ["内容が不正確", "形式が合わない", "情報が足りない", "不要だった"],
        description="Folders inside 不採用 (made by `teichaku init` and every scan): a draft moved "
        "into one records that reason; `teichaku feedback --reason` takes the same names.",
    )


class IntakeSettings(_Section):
    quiet_seconds: float = Field(
        0.0,
        ge=0,
        description="A file is read only when unchanged this long. `teichaku watch` uses at least 2 s.",
    )
    max_file_mb: float = Field(100.0, gt=0, description="Larger files are refused before parsing.")
    zip_max_total_mb: float = Field(
        300.0, gt=0, description="docx: most uncompressed bytes in all members."
    )
    zip_max_ratio: float = Field(
        150.0, gt=1, description="docx: most compression ratio of any member."
    )
    pdf_max_pages: int = Field(2000, ge=1, description="PDFs with more pages are refused.")
    pdf_timeout_seconds: float = Field(120.0, gt=0, description="Time bound for reading one PDF.")
    pdf_memory_mb: int = Field(
        1024,
        ge=128,
        description="Memory the process reading one PDF may add (beyond what it starts with).",
    )
    ocr_max_pages: int = Field(
        50, ge=1, description="Scans and photos: documents with more pages to OCR are refused."
    )
    ocr_timeout_seconds: float = Field(
        600.0, gt=0, description="Time bound for OCR of one document (about 2-6 s per page)."
    )
    ocr_memory_mb: int = Field(
        3072,
        ge=256,
        description="Memory the OCR process of one document may add (the model needs ~1.5 GB).",
    )
    ocr_dpi: int = Field(
        200,
        ge=100,
        le=400,
        description="Resolution at which scanned PDF pages are rendered for OCR.",
    )
    lease_seconds: float = Field(
        600.0, gt=0, description="A claim older than this is taken over (dead worker)."
    )
    cpu_workers: int | None = Field(
        None,
        ge=0,
        description=(
            "Processes that read, guard and render (each loads GiNZA, ~430 MB). Empty: one per "
            "core, at most 4; 0: everything in the main process."
        ),
    )


class WatchSettings(_Section):
    poll_interval_seconds: float = Field(
        2.0,
        gt=0,
        le=300,
        description="How often `teichaku watch` lists the inboxes. Polling is what works on SMB/NFS shares, "
        "where OS file events do not arrive for writes made by other machines.",
    )
    quiet_seconds: float = Field(
        2.0,
        ge=0.5,
        description="A file is read only after its size and mtime stayed unchanged this long and it opens.",
    )
    rescan_seconds: float = Field(
        60.0,
        gt=0,
        description="Full rescan: re-check the folders, restart the event watcher, retry files left waiting.",
    )
    retry_seconds: float = Field(
        30.0,
        gt=0,
        description="A file still in the inbox after processing (engine outage, another worker) is retried this late.",
    )
    stop_grace_seconds: float = Field(
        10.0,
        ge=0,
        description="On SIGTERM / Ctrl-C, how long documents in progress may finish before their claims are released.",
    )
    workers: int | None = Field(
        None, ge=1, le=64, description="Documents processed at once; default llm.concurrency."
    )
    use_events: bool = Field(
        True, description="Use OS file events (watchfiles) to react faster; polling always runs."
    )


class ServeSettings(_Section):
    intake_interval_seconds: int = Field(
        60,
        ge=10,
        le=60,
        description="The intake deployment runs at least this often (at most every minute).",
    )
    digest_cron: str = Field("0 9 * * 1", description="Weekly digest schedule (cron).")
    timezone: str = Field("Asia/Tokyo", description="Time zone of the digest schedule.")
    work_pool: str = Field(
        "teichaku-process", description="Process work pool for multi-machine setups (prefect.yaml)."
    )
    crash_after_seconds: int = Field(
        120,
        ge=60,
        description="A flow run with no heartbeat this long is marked Crashed by the zombie automation.",
    )


class OrchestrationSettings(_Section):
    mode: Literal["auto", "prefect", "direct"] = Field(
        "auto",
        description="How `teichaku run` executes a batch. prefect: the intake flow, one Prefect task per "
        "document, against PREFECT_API_URL or else a temporary in-process Prefect server (~15 s extra per run); "
        "direct: the same steps on a thread pool without Prefect (no UI, no artifacts); auto: prefect when "
        "PREFECT_API_URL is set, else direct.",
    )

    def resolved(self) -> Literal["prefect", "direct"]:
        if self.mode == "auto":
            return "prefect" if prefect_api_url() else "direct"
        return self.mode


class SmtpSettings(_Section):
    host: str | None = Field(
        None,
        description="SMTP server for the weekly digest; unset means the digest cannot be sent.",
    )
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="SMTP port; default 465 with ssl, 587 with starttls, else 25.",
    )
    username: str | None = Field(None, description="SMTP login name; unset means no AUTH.")
    password: SecretStr | None = Field(None, description="SMTP password (never logged or stored).")
    starttls: bool = Field(
        True, description="Upgrade a plain connection with STARTTLS (required when set)."
    )
    ssl: bool = Field(
        False, description="Implicit TLS from the first byte (SMTPS, usually port 465)."
    )
    timeout_seconds: float = Field(30.0, gt=0, description="Socket timeout for every SMTP step.")
    sender: str = Field("teichaku@localhost", description="From address of the digest.")
    ca_file: Path | None = Field(
        None,
        description="Extra CA certificate (PEM) to trust, for an in-house server's own certificate.",
    )

    def effective_port(self) -> int:
        if self.port:
            return self.port
        return 465 if self.ssl else 587 if self.starttls else 25


class DigestSettings(_Section):
    recipients: list[str] = Field(
        default_factory=list,
        description="Who gets the weekly digest, e.g. TEICHAKU_DIGEST__RECIPIENTS='[\"dx@example.co.jp\"]'.",
    )
    managers: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per-department managers who also get the digest, keyed by department id or Japanese name.",
    )
    per_person_metrics: bool = Field(
        False,
        description="Show figures per person (file owner); off by default: department level only.",
    )
    timezone: str = Field(
        "Asia/Tokyo",
        description="Time zone that decides which ISO week and month a document is in.",
    )
    trend_weeks: int = Field(8, ge=2, le=52, description="Weeks shown in the trend.")
    cost_per_1k_tokens: float = Field(
        0.1,
        ge=0,
        description="Estimated cost per 1,000 tokens sent to a model (offline engine calls cost nothing).",
    )
    currency: str = Field("円", description="Unit shown after costs.")
    success_cases: int = Field(3, ge=0, le=20, description="Most success cases shown.")
    excerpts: bool = Field(
        True, description="Quote a short excerpt of the draft in each success case."
    )
    rollout_min_adopted: int = Field(
        3,
        ge=1,
        description="横展開: a spec needs at least this many adopted drafts to be suggested elsewhere.",
    )
    rollout_min_adoption_rate: float = Field(
        0.6, ge=0, le=1, description="横展開: and at least this share of its judged drafts adopted."
    )
    catalog_url: str | None = Field(
        None,
        description=(
            "Where the catalogue built by `teichaku catalog --out` is published (the folder holding "
            "index.html), e.g. https://intranet.example.co.jp/teichaku/ or file://fileserver/share/site; "
            "the digest links to it and to each suggested spec's page. Unset: no links."
        ),
    )

    @field_validator("catalog_url")
    @classmethod
    def _blank_is_unset(cls, v: str | None) -> str | None:
        # TEICHAKU_DIGEST__CATALOG_URL= (empty) must mean "no links", not links to "/index.html".
        if v is None:
            return None
        return v.strip() or None


NotifyEvent = Literal["drafted", "quarantined", "digest"]


class NotifySettings(_Section):
    url: SecretStr | None = Field(
        None,
        description="Default webhook URL (Slack or Teams incoming webhook, a Teams workflow, Power "
        "Automate, n8n, ...). A secret: never logged or stored. Unset with no department URL: no messages.",
    )
    departments: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Per-department webhook URLs keyed by department id or Japanese name; "
        "a department without one uses `url`.",
    )
    format: Literal["text", "teams_workflow"] = Field(
        "text",
        description='text: JSON {"text": ...} (what Slack and Teams incoming webhooks accept); '
        "teams_workflow: the same plus an Adaptive Card attachment (Teams Workflows).",
    )
    events: list[NotifyEvent] = Field(
        default_factory=lambda: ["drafted", "quarantined", "digest"],
        description="What is announced: a draft made, a file quarantined, the weekly digest's headline.",
    )
    include_personal: bool = Field(
        False,
        description="Put values that may name a person in messages: the real file names (otherwise "
        "a drafted file is named as the guard masked it and a quarantined one is not named) and owners.",
    )
    timeout_seconds: float = Field(5.0, gt=0, le=60, description="Per webhook request.")
    max_attempts: int = Field(
        4,
        ge=1,
        le=10,
        description="Attempts per event in one pass on 429 / 5xx, with backoff (1, 2, 4 s) or Retry-After.",
    )
    max_retry_after_seconds: float = Field(
        30.0, gt=0, description="Upper bound on a receiver's Retry-After."
    )
    give_up_after: int = Field(
        20,
        ge=1,
        description="An event no receiver accepted after this many attempts over all runs is given up.",
    )
    flush_seconds: float = Field(
        3.0,
        ge=0,
        description="At the end of a run, how long the background sender may go on; what is left "
        "is sent by the next run (documents never wait for a webhook).",
    )

    def configured(self) -> bool:
        return self.url is not None or bool(self.departments)


class ReportSettings(_Section):
    dx_contact: str = Field(
        "DX推進室",
        description="Who to ask, shown in the monthly report beside the spec owners "
        "(e.g. 「DX推進室 山田（内線 1234）」).",
    )
    cron: str = Field(
        "0 9 1-7 * *",
        description="When the monthly report deployment wakes (cron, serve.timezone); it makes the "
        "report only on the month's first working day and does nothing on the other days.",
    )
    company_holidays: list[str] = Field(
        default_factory=lambda: ["01-02", "01-03", "12-29", "12-30", "12-31"],
        description="MM-DD days the company is closed every year, besides weekends and Japan's "
        "public holidays (which decide the first working day).",
    )
    out_dir: Path = Field(
        Path("月次レポート"),
        description="Where the scheduled monthly report writes <month>.html and <month>.csv "
        "(relative to the workspace).",
    )


Policy = Literal["block", "local_only", "allow"]


class DepartmentGuard(_Section):
    policy: Policy | None = Field(
        None,
        description="Policy for labelled documents of this department; None: guard.default_policy.",
    )
    send_external: bool | None = Field(
        None,
        description="False: this department's documents never go to an external endpoint (offline engine instead).",
    )


class GuardSettings(_Section):
    enabled: bool = Field(
        True, description="Mask personal data and client names before every model call."
    )
    labels: list[str] = Field(
        default_factory=lambda: [
            "極秘",
            "厳秘",
            "社外秘",
            "関係者外秘",
            "部外秘",
            "取扱注意",
            "Confidential",
            "Strictly Confidential",
        ],
        description="Confidentiality labels; a document carrying one follows the policy.",
    )
    default_policy: Policy = Field(
        "block",
        description="block: quarantine with a reason; local_only: only a local endpoint or the offline engine; allow: treat as any document.",
    )
    departments: dict[str, DepartmentGuard] = Field(
        default_factory=dict,
        description="Per-department overrides, keyed by department id (e.g. sales).",
    )
    send_external: bool = Field(
        True, description="False: no document goes to an external endpoint at all."
    )
    client_list: Path = Field(
        Path("guard/取引先.txt"),
        description="Client names, one per line (relative to the workspace); masked as 会社.",
    )
    employee_csv: Path | None = Field(
        None,
        description="Optional employee directory CSV (a 氏名/name column); its names are masked as 人名.",
    )
    ner: bool = Field(
        True, description="Use GiNZA's named-entity model for person and company names."
    )
    ner_max_chars: int = Field(
        20000,
        ge=0,
        description="Most characters per document the NER model reads (it runs at ~1,000-3,000 chars/s).",
    )


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
    guard: GuardSettings = Field(default_factory=GuardSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    orchestration: OrchestrationSettings = Field(default_factory=OrchestrationSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    report: ReportSettings = Field(default_factory=ReportSettings)

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

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # Sent to worker processes as resolved values: load_settings() returns an instance of
        # a class local to it (its sources), which pickle cannot name.
        return (_restore_settings, ({name: getattr(self, name) for name in Settings.model_fields},))

    @property
    def state_dir(self) -> Path:
        return self.workspace / STATE_DIR

    @property
    def zone(self) -> ZoneInfo:
        """The workspace's time zone (digest.timezone): every time a person reads is shown in it
        (drafts, .error.txt, the CLI, the digest), not the machine's."""
        return ZoneInfo(self.digest.timezone)

    @property
    def engine(self) -> str:
        assert self.llm.engine is not None
        return self.llm.engine

    @property
    def openai_base_url(self) -> str | None:
        """The endpoint the openai client will use (for the audit trail and the draft header)."""
        return os.environ.get("OPENAI_BASE_URL")


def _restore_settings(values: dict[str, Any]) -> Settings:
    return Settings.model_construct(**values)


def load_settings(workspace: Path | str, **overrides: Any) -> Settings:
    """Settings for one workspace: its teichaku.toml under the environment, overrides on top.

    Raises ConfigError, in Japanese, for an unknown section, key or TEICHAKU_* variable (they
    would be ignored, and a misspelt safeguard silently off) and for a value of the wrong type."""
    ws = Path(workspace).expanduser().resolve()
    toml_path = ws / CONFIG_FILE
    check = SettingsCheck(schema(Settings), toml_path, os.environ)
    toml_data = check.read_toml()
    check.check_toml(toml_data)
    check.check_environment()
    if problems := check.message():
        raise ConfigError(problems)

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
            # The file as checked above, parsed once (what TomlConfigSettingsSource would read).
            toml = InitSettingsSource(settings_cls, init_kwargs=toml_data)
            return (init_settings, env_settings, toml)

    try:
        return _WorkspaceSettings(workspace=ws, **overrides)
    except ValidationError as e:
        check.explain(e)
        raise ConfigError(check.message() or "設定に誤りがあります。") from None
    except SettingsError as e:  # a JSON value check_environment did not foresee
        raise ConfigError(f"TEICHAKU_* 環境変数の値を読めません（{e.__cause__ or e}）。") from None


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
        # Heartbeats let the zombie automation (deployments/) mark runs of a killed process
        # Crashed instead of Running forever; 30 s is Prefect's minimum.
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),
    }
    if os.environ.get("PREFECT_API_URL"):
        defaults.pop("PREFECT_HOME")
    for key, value in defaults.items():
        os.environ.setdefault(key, value)


def filesystem_type(path: Path, mounts: Path = Path("/proc/mounts")) -> str | None:
    """Type of the filesystem holding `path` (longest matching mount point); None when unknown."""
    try:
        lines = mounts.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None  # not Linux: nothing to check against
    target = path.resolve()
    while not target.exists() and target != target.parent:
        target = target.parent  # the store's folder may not exist yet; its parent decides
    best: tuple[int, str | None] = (-1, None)
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        # /proc/mounts escapes blanks in mount points as octal (\040).
        mount = Path(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), parts[1]))
        if (target == mount or mount in target.parents) and len(mount.parts) > best[0]:
            best = (len(mount.parts), parts[2])
    return best[1]


def is_network_fs(fs_type: str | None) -> bool:
    if not fs_type:
        return False
    base = fs_type.removeprefix("fuse.")
    return base in NETWORK_FS_TYPES or base in {"sshfs", "rclone", "s3fs", "gcsfuse"}


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for another database or an in-memory one."""
    if not url.startswith("sqlite"):
        return None
    raw = url.split("///", 1)[-1]
    return None if not raw or raw == ":memory:" else Path(raw)


def sqlite_path(settings: Settings) -> Path | None:
    return sqlite_file(settings.database_url or "")


def check_store_location(settings: Settings, mounts: Path = Path("/proc/mounts")) -> None:
    """Refuse a SQLite store on a network filesystem: its locks do not hold there and it corrupts."""
    db = sqlite_path(settings)
    if db is None:
        return
    fs = filesystem_type(db, mounts)
    if is_network_fs(fs):
        raise ConfigError(
            f"SQLite のデータベース {db} はネットワーク上のファイルシステム（{fs}）にあります。"
            "共有フォルダ上の SQLite は壊れることがあるため使えません。"
            "TEICHAKU_DATABASE_URL に PostgreSQL を指定してください"
            "（例: postgresql+psycopg://teichaku@db.example.local/teichaku）。"
            f" / refusing SQLite store on network filesystem {fs}: use PostgreSQL via TEICHAKU_DATABASE_URL."
        )


def prefect_api_url() -> str | None:
    """The Prefect API the operator chose (PREFECT_API_URL), if any."""
    return os.environ.get("PREFECT_API_URL") or None


def use_prefect_api(url: str) -> None:
    """Point Prefect at `url`: this process (import Prefect after this) and the flow-run processes
    it starts, which inherit the environment."""
    os.environ["PREFECT_API_URL"] = url
