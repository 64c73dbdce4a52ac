"""Workspace layout: `<workspace>/<部署>/<文書>/{受付,下書き,処理済み,隔離}` per spec, plus teichaku.toml."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from core.settings import CONFIG_FILE, STATE_DIR, Settings
from core.specs import LoadedSpec, PromptSpec


class SpecFolders(BaseModel):
    inbox: Path
    outbox: Path
    archive: Path
    quarantine: Path

    def all(self) -> list[Path]:
        return [self.inbox, self.outbox, self.archive, self.quarantine]


def feedback_folders(settings: Settings, spec: PromptSpec) -> list[Path]:
    """Where people put a draft to say what they did with it: 採用/, 不採用/ and one folder per
    rejection reason inside 不採用/ (settings.folders.rejection_reasons)."""
    outbox = folders_for(settings, spec).outbox
    rejected = outbox / settings.folders.rejected
    reasons = [rejected / r for r in settings.folders.rejection_reasons]
    return [outbox / settings.folders.adopted, rejected, *reasons]


def folders_for(settings: Settings, spec: PromptSpec) -> SpecFolders:
    base = settings.workspace / spec.folder_rel
    names = settings.folders
    return SpecFolders(
        inbox=base / names.inbox,
        outbox=base / names.outbox,
        archive=base / names.archive,
        quarantine=base / names.quarantine,
    )


CONFIG_TEMPLATE = """\
# teichaku の設定ファイル / teichaku workspace settings.
# Every value can be overridden by an environment variable TEICHAKU_<SECTION>__<KEY>,
# e.g. TEICHAKU_LLM__CONCURRENCY=8. The database URL is TEICHAKU_DATABASE_URL.
# 名前の誤り（[gaurd] など）や型の誤りは無視されず、どのコマンドも何行目かを示して止まります。

# 保存先（既定はワークスペース内の SQLite）。複数台で動かすときは PostgreSQL を指定:
# database_url = "postgresql+psycopg://teichaku@db.example.local/teichaku"

[llm]
# engine = "offline"   # "openai"（OpenAI 互換エンドポイント）または "offline"（組み込みの抽出エンジン）
#                      # 既定: OPENAI_API_KEY があれば openai、なければ offline
# The endpoint itself comes from OPENAI_BASE_URL / OPENAI_API_KEY (OpenAI, Ollama, vLLM ...).
model = "gpt-4o-mini"
concurrency = 4          # 同時に送るリクエスト数の上限
timeout_seconds = 60     # 1 リクエストのタイムアウト（秒）
context_tokens = 16000   # モデルの最大コンテキスト長（トークン）
# endpoint_is_local = false   # 社内で動くエンドポイント（Ollama / vLLM）なら true
# Azure OpenAI:
# azure_endpoint = "https://example.openai.azure.com"
# azure_api_version = "2024-10-21"

[folders]
# 各部署・文書フォルダの下に作られるフォルダ名
inbox = "受付"         # ここにファイルを入れる
outbox = "下書き"      # AI の下書きが出る
archive = "処理済み"   # 元ファイルはここへ移動（内容はそのまま）
quarantine = "隔離"    # 読めなかったファイルと理由（.error.txt）
# 下書き/不採用/ の中に作る理由フォルダ（ここに入れた下書きは、その理由で不採用と記録されます）
rejection_reasons = ["内容が不正確", "形式が合わない", "情報が足りない", "不要だった"]

[intake]
quiet_seconds = 0        # 書き込み中のファイルを避ける待ち時間（watch は最低 2 秒）
max_file_mb = 100        # これより大きいファイルは受け付けない
pdf_max_pages = 2000
pdf_timeout_seconds = 120
# cpu_workers = 2        # 読み取り・伏せ字・下書き作成を受け持つプロセス数（既定: CPU コア数、最大 4。0 で使わない）

[guard]
# AI に送る前に個人情報・取引先名を伏せ字にします（下書きでは元に戻ります）。
enabled = true
default_policy = "block"   # 「社外秘」などの表示がある文書: block（隔離）/ local_only（社内のみ）/ allow
# send_external = true     # false にすると外部のエンドポイントには一切送りません
# client_list = "guard/取引先.txt"          # 取引先名の一覧（1 行に 1 社）
# employee_csv = "guard/社員名簿.csv"       # 社員名簿（任意）
# [guard.departments.sales]
# policy = "local_only"
# send_external = false

[digest]
# 週次ダイジェストの宛先（環境変数 TEICHAKU_DIGEST__RECIPIENTS='["a@example.com"]' でも可）
# recipients = ["dx@example.com"]
timezone = "Asia/Tokyo"
# teichaku catalog --out で作ったプロンプト集の公開場所（index.html のあるフォルダ）。ダイジェストからリンクします
# catalog_url = "https://intranet.example.com/teichaku/"
# [digest.managers]
# sales = ["sales-manager@example.com"]

[notify]
# 下書きができたとき・隔離したとき・週次ダイジェストの見出しを Teams / Slack などに知らせる Webhook。
# URL は秘密の値です: TEICHAKU_NOTIFY__URL で渡すのがおすすめです（ログには出しません）。
# url = "https://example.webhook.office.com/..."
# format = "text"            # "teams_workflow" にすると Adaptive Card も付けます（Teams ワークフロー）
# include_personal = false   # true: 実際のファイル名・作成者名もメッセージに入れます
# [notify.departments]
# sales = "https://hooks.slack.com/services/..."

[report]
# 月次レポートの「問い合わせ先」
# dx_contact = "DX推進室（内線 1234）"

[smtp]
# host = "smtp.example.com"
# port = 587
# username = "teichaku"    # パスワードは TEICHAKU_SMTP__PASSWORD で渡してください（ファイルに書かない）
# starttls = true
# ssl = false
# sender = "teichaku@example.com"

[watch]
# teichaku watch の動き
poll_interval_seconds = 2   # 共有フォルダ（SMB/NFS）はイベントが届かないため定期的に確認します
quiet_seconds = 2           # サイズと更新時刻がこの秒数変わらなければ書き込み完了とみなします
"""


def init_workspace(directory: Path, specs: list[LoadedSpec], settings: Settings) -> list[Path]:
    """Create teichaku.toml (kept if present) and every spec's folders. Returns the folders made."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / CONFIG_FILE
    if not config.exists():
        config.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    (directory / STATE_DIR).mkdir(exist_ok=True)
    made: list[Path] = []
    for loaded in specs:
        for folder in [
            *folders_for(settings, loaded.spec).all(),
            *feedback_folders(settings, loaded.spec),
        ]:
            folder.mkdir(parents=True, exist_ok=True)
            made.append(folder)
    return made
